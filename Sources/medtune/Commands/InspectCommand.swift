import ArgumentParser
import Bench
import CUDA
import Foundation
import MedtuneCore
import ModelFiles

/// `medtune inspect PATH`: what a model file holds and what loading it will cost;
/// `medtune inspect --system`: the matrix-product setup medtune found on this machine, and its GPUs.
struct InspectCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a model (GGUF file or Hugging Face folder), or this machine with --system.",
        discussion: """
        For a model: architecture, format, parameter count, tensors per storage type, context length, \
        vocabulary, special tokens, chat template, and the memory medtune needs to load it (mapped \
        weights plus an estimate of the float32 working set). Only headers are read, so an incomplete \
        download can be inspected too.
        """)

    @Argument(help: "A .gguf file or a folder with config.json and safetensors weights.")
    var path: String?

    @Flag(help: "Show the OpenBLAS build, the kernel in use, a measured sgemm rate and the NVIDIA GPUs instead.")
    var system = false

    var multipliesMatrices: Bool { system }

    @Option(help: "Tokens in flight for the working-set estimate.")
    var tokens = 2048

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    func validate() throws {
        guard system != (path != nil) else {
            throw ValidationError("give either a model path or --system")
        }
        guard tokens > 0 else { throw ValidationError("--tokens must be positive") }
    }

    func run() throws {
        if system {
            let report = try SystemReport.measure()
            report.lines.forEach { print($0) }
            GPUReport.probe().lines.forEach { print($0) }
            return
        }
        guard let path else { return }
        let summary = try ModelSummary.inspect(path, tokens: tokens)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            summary.lines.forEach { print($0) }
        }
    }
}
