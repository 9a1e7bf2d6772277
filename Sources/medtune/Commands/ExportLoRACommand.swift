import ArgumentParser
import Exporter
import Foundation
import Hub
import MedtuneCore
import Transformer

/// `medtune export-lora`: a PEFT LoRA adapter as llama.cpp's LoRA GGUF.
struct ExportLoRACommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-lora",
        abstract: "Write a LoRA adapter as a GGUF file for llama.cpp (--lora).",
        discussion: """
            The file is what llama.cpp's convert_lora_to_gguf.py writes (--outtype f32): general.type adapter, \
            adapter.type lora, adapter.lora.alpha, and blk.N.<tensor>.lora_a / .lora_b holding PEFT's A [rank × in] \
            and B [out × rank] in float32. llama.cpp scales by alpha/rank; an rsLoRA adapter (alpha/√rank) is \
            written with the alpha that gives its scale. The adapter is checked against the base model (tensor \
            names and shapes) first, and the file appears only when complete.
            """)

    @Option(help: "The base model the adapter was trained on (default: the adapter's base_model_name_or_path).")
    var model: String?

    @Option(help: "The PEFT adapter folder (a run's adapter: the run folder itself, or a checkpoint-N).")
    var adapter: String

    @Option(help: "The GGUF file to write; it must not exist.")
    var output: String

    func run() throws {
        let adapterPath = try Hub.resolveModel(adapter, allowDownload: false).path
        let recorded = try? PEFTAdapterConfig(file: (adapterPath as NSString).appendingPathComponent(PEFTAdapter.configFile)).baseModelNameOrPath
        guard let model = model ?? recorded else {
            throw InputError(file: adapterPath, "does not record its base model (base_model_name_or_path); name it with --model")
        }
        let base = try Hub.resolveModel(model, allowDownload: false).path
        try AdapterGGUF.write(base: base, adapter: adapterPath, to: output)
        print("wrote \(output): \(adapter) as a llama.cpp LoRA adapter for \(model), read back and checked")
    }
}
