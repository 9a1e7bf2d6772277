import ArgumentParser
import Bench
import Foundation
import MedtuneCore
import ModelFiles

/// `medtune bench weights`: the stored-weight matrix products of a model, for the largest matrix
/// of each storage type, so each quantisation's kernels can be compared with the memory
/// bandwidth they need and with BLAS on already-decoded weights.
struct BenchWeightsCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Matrix–vector and matrix products of each stored weight type of a model.",
        discussion: """
            For the largest matrix of each type: W·x on one core over rows already in cache (the kernel's
            own speed, in elements per second) and on every core over the whole matrix (what one decoding
            step pays; GB/s of stored weights, bounded by memory bandwidth); decoding everything and sgemv
            (the path the fused kernels replace); a product with a few input rows (batched decoding); and a
            prompt-sized product beside sgemm on the same rows decoded beforehand (its ceiling).
            """)

    @Option(name: .long, help: ArgumentHelp("A GGUF file or model folder (default: the Qwen2.5-Coder-0.5B GGUF in the asset cache).", valueName: "PATH"))
    var model: String?

    @Option(help: "Timed repetitions per measurement (the best is kept).")
    var repeats = 10

    @Option(help: "Input rows of the few-row product (batched decoding).")
    var fewRows = 4

    @Option(help: "Input rows of the prompt-sized product.")
    var matrixRows = 512

    func validate() throws {
        guard repeats >= 1, fewRows >= 1, matrixRows >= 1 else {
            throw ValidationError("--repeats, --few-rows and --matrix-rows must be at least 1")
        }
    }

    func run() throws {
        let path = model ?? BenchTokenizerCommand.defaultModel()
        let checkpoint = try ModelCheckpoint.open(path)
        print("model: \(path), \(Parallel.threads) cores, OpenBLAS kernel \(OpenBLAS.shared.coreName)")
        for result in try WeightBenchmark.measure(checkpoint.source, repeats: repeats, fewRows: fewRows, matrixRows: matrixRows) {
            result.lines.forEach { print($0) }
        }
    }
}
