import ArgumentParser
import Exporter
import Foundation
import Hub

/// `medtune merge`: a base model with its LoRA adapter folded in, as a Hugging Face folder or a
/// GGUF file.
struct MergeCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold a LoRA adapter into its base model and write a Hugging Face folder or a GGUF file.",
        discussion: """
            Each adapted weight becomes W + (alpha/r)·B·A (alpha/√r with rsLoRA), computed in float32 and rounded \
            once to the output's type; every other tensor is the base's. The base (HF folder or GGUF) is never \
            modified; an adapter made for another model is refused before anything is written, and the output \
            appears only when complete.

            --format hf (default): a folder with config.json, safetensors in --dtype (sharded with an index \
            beyond 5 GB), tokenizer.json, tokenizer_config.json and generation_config.json, read back and checked.

            --format gguf (GGUF base only): one GGUF v3 file with the base's metadata, tokenizer and tensor order. \
            --gguf-type keep (default) stores every tensor in the base's type: those the adapter does not touch \
            byte for byte as the base stores them, the folded ones re-encoded as llama.cpp's reference quantizers \
            encode (F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K). q8_0 and f16 re-encode every tensor of two or \
            more dimensions; one-dimensional ones (norm weights, biases) stay as stored (F32), as llama.cpp keeps them.
            """)

    @Option(help: "The base model: a Hugging Face folder, a .gguf file, or a downloaded repository id.")
    var model: String

    @Option(help: "The PEFT adapter folder (a run's adapter: the run folder itself, or a checkpoint-N).")
    var adapter: String

    @Option(help: "The folder (hf) or file (gguf) to write; a folder must not exist or be empty, a file must not exist.")
    var output: String

    @Option(help: ArgumentHelp("What to write.", valueName: "hf|gguf"))
    var format: MergeFormat = .hf

    @Option(help: ArgumentHelp("Element type of the written weights, for --format hf (default bf16).", valueName: "bf16|f16|f32"))
    var dtype: FloatStorage?

    @Option(name: .customLong("gguf-type"),
            help: ArgumentHelp("Tensor types of a GGUF output (default keep).", valueName: "keep|q8_0|f16"))
    var ggufType: GGUFTensorTypes?

    enum MergeFormat: String, ExpressibleByArgument, CaseIterable { case hf, gguf }

    func validate() throws {
        if format == .gguf, dtype != nil { throw ValidationError("--dtype is for --format hf; a GGUF output takes --gguf-type") }
        if format == .hf, ggufType != nil { throw ValidationError("--gguf-type is for --format gguf") }
    }

    func run() throws {
        let base = try Hub.resolveModel(model, allowDownload: false).path
        let adapterPath = try Hub.resolveModel(adapter, allowDownload: false).path
        switch format {
        case .hf:
            let dtype = dtype ?? .bf16
            try MergedModel.write(base: base, adapter: adapterPath, to: output, dtype: dtype.type)
            print("wrote \(output): \(model) with \(adapter) folded in (\(dtype.rawValue)), read back and checked")
        case .gguf:
            let types = ggufType ?? .keep
            try MergedModel.writeGGUF(base: base, adapter: adapterPath, to: output, types: types)
            print("wrote \(output): \(model) with \(adapter) folded in (GGUF, tensor types: \(types.rawValue)), read back and checked")
        }
    }
}

extension GGUFTensorTypes: ExpressibleByArgument {}
