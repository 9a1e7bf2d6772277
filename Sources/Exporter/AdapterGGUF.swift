import Foundation
import MedtuneCore
import ModelFiles
import Transformer

/// A PEFT LoRA adapter as llama.cpp's LoRA GGUF (`llama-server --lora`, `llama-cli --lora`,
/// `llama-export-lora`), laid out as llama.cpp's convert_lora_to_gguf.py writes it with its
/// default `--outtype f32`: `general.type` = adapter, `general.architecture` the base's,
/// `adapter.type` = lora, `adapter.lora.alpha`, and per adapted weight `<gguf name>.lora_a`
/// (PEFT's A, [rank × in]) and `<gguf name>.lora_b` (PEFT's B, [out × rank]) in float32, in the
/// PEFT file's order: tensor for tensor the converter's file (Tests/Golden/Exporter). The
/// converter's descriptive keys from the adapter's model card (general.name, tags) are left out.
///
/// llama.cpp scales by alpha / rank, its rank being A's row count. rsLoRA's alpha / √rank is
/// written as the alpha that gives the same scale, alpha · √rank.
public enum AdapterGGUF {
    /// Checks the adapter at `adapter` against the base model at `base` (names, shapes) and writes
    /// it to `file`, which appears only when complete and read back.
    public static func write(base: String, adapter: String, to file: String) throws {
        try StagedFolder.checkFree(file: file, what: "adapter GGUF")
        let (model, checkpoint) = try Qwen2Model<Float>.load(path: base)
        let config = try PEFTAdapter.load(adapter, into: model)
        let alpha = config.useRSLoRA ? config.loraAlpha * Double(config.r).squareRoot() : config.loraAlpha
        var writer = GGUFWriter()
        let architecture = checkpoint.gguf?.metadata["general.architecture"]?.string ?? "qwen2"
        for (key, value): (String, GGUFValue) in [
            ("general.architecture", .string(architecture)), ("general.type", .string("adapter")),
            ("adapter.type", .string("lora")), ("adapter.lora.alpha", .float32(Float(alpha))),
            ("general.quantization_version", .uint32(2)),
        ] {
            try writer.setMetadata(key, value)
        }
        var written: [(name: String, values: [Float])] = []
        // In the order of the PEFT file (its tensor names sorted), as the converter writes them.
        let ordered = model.attachedAdapters.sorted { $0.site.tensorName(.a).utf8.lexicographicallyPrecedes($1.site.tensorName(.a).utf8) }
        for (site, lora) in ordered {
            let weight = site.modulePath + ".weight"
            guard let name = Qwen2TensorNames.ggufName(canonical: weight) else {
                throw InputError(file: adapter, at: "tensor \(weight)", "has no GGUF name")
            }
            for (suffix, matrix) in [(".lora_a", lora.a), (".lora_b", lora.b)] {
                let values = matrix.array
                try writer.addTensor(name + suffix, type: .f32, shape: matrix.shape) { buffer in
                    values.withUnsafeBufferPointer { RowCodec.quantize(.f32, $0.baseAddress!, into: buffer.baseAddress!, count: values.count) }
                }
                written.append((name + suffix, values))
            }
        }
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: file).deletingLastPathComponent(), withIntermediateDirectories: true)
        try writer.write(to: file) { gguf in
            for (name, values) in written {
                guard try gguf.tensor(named: name).floats() == values else {
                    throw SystemError("\(gguf.path): tensor \(name) does not read back as written")
                }
            }
        }
    }
}
