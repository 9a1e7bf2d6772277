import ArgumentParser
import Foundation
import MedtuneCore
import ModelFiles

/// `medtune bench weights`: the stored-weight matrix products of a model, one line per storage
/// type (its largest matrix), so each quantisation's kernels can be compared with the memory
/// bandwidth they need and with BLAS on already-decoded weights.
struct BenchWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Matrix–vector and matrix products of each stored weight type of a model.")

    @Option(name: .long, help: ArgumentHelp("A GGUF file or model folder (default: the Qwen2.5-Coder-0.5B GGUF in the asset cache).", valueName: "PATH"))
    var model: String?

    @Option(help: "Timed repetitions per measurement (the best is kept).")
    var repeats = 10

    @Option(help: "Input rows of the few-row product (batched decoding).")
    var fewRows = 4

    @Option(help: "Input rows of the prompt-sized product.")
    var matrixRows = 512

    func run() throws {
        try OpenBLAS.load()
        let path = model ?? BenchTokenizerCommand.defaultModel()
        let checkpoint = try ModelCheckpoint.open(path)
        print("model: \(path), \(Parallel.threads) cores, OpenBLAS kernel \(OpenBLAS.shared.coreName)")
        for result in try WeightBenchmark.measure(checkpoint.source, repeats: repeats, fewRows: fewRows, matrixRows: matrixRows) {
            result.lines.forEach { print($0) }
        }
    }
}
