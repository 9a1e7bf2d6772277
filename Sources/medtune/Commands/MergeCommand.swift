import ArgumentParser
import Exporter
import Foundation
import Hub

/// `medtune merge`: a base model with its LoRA adapter folded in, as a Hugging Face folder.
struct MergeCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold a LoRA adapter into its base model and write a Hugging Face folder.",
        discussion: """
            Each adapted weight becomes W + (alpha/r)·B·A (alpha/√r with rsLoRA), computed in float32 and rounded \
            once to --dtype; every other tensor is the base's. The folder holds config.json, safetensors (sharded \
            with an index beyond 5 GB), tokenizer.json, tokenizer_config.json and generation_config.json, and is \
            read back and checked before it appears. The base (HF folder or GGUF) is never modified; an adapter \
            made for another model is refused before anything is written.
            """)

    @Option(help: "The base model: a Hugging Face folder, a .gguf file, or a downloaded repository id.")
    var model: String

    @Option(help: "The PEFT adapter folder (a run's adapter: the run folder itself, or a checkpoint-N).")
    var adapter: String

    @Option(help: "The folder to write; it must not exist or be empty.")
    var output: String

    @Option(help: ArgumentHelp("Element type of the written weights.", valueName: "bf16|f16|f32"))
    var dtype: FloatStorage = .bf16

    func run() throws {
        let base = try Hub.resolveModel(model, allowDownload: false).path
        let adapterPath = try Hub.resolveModel(adapter, allowDownload: false).path
        try MergedModel.write(base: base, adapter: adapterPath, to: output, dtype: dtype.type)
        print("wrote \(output): \(model) with \(adapter) folded in (\(dtype.rawValue)), read back and checked")
    }
}
