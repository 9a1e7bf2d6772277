import Foundation
import MedtuneCore
import ModelFiles
import Tokenizers
import Transformer

/// A base model with a LoRA adapter folded into its weights, W + scale · B·A, written as a
/// Hugging Face folder or as one GGUF file, which any engine serves without PEFT. The fold is
/// computed in float32 and rounded once to the output's type; every other tensor is the base's
/// own. The base file is only read.
public enum MergedModel {
    /// Folds the PEFT adapter at `adapter` into the model at `base` (an HF folder or a GGUF file)
    /// and writes the result to `folder` as `dtype`. An adapter that does not fit the base (names,
    /// shapes) is refused by `PEFTAdapter.load` before anything is written.
    public static func write(base: String, adapter: String, to folder: String, dtype: StorageType,
                             shardBytes: Int = HuggingFaceFolder.defaultShardBytes) throws {
        try StagedFolder.checkFree(folder, what: "merged model")
        let (checkpoint, adapters) = try adaptedWeights(base: base, adapter: adapter)
        let tokenizer = try TokenizerLoader.loadBPE(path: base)
        try StagedFolder.create(folder, what: "merged model") { staging in
            try HuggingFaceFolder.write(checkpoint, tokenizer: tokenizer, to: staging, dtype: dtype, shardBytes: shardBytes) { name in
                let weight = try checkpoint.tensor(name).floats()
                return adapters[name].map { folded(weight, $0) } ?? weight
            }
        }
    }

    /// Folds the PEFT adapter at `adapter` into the GGUF model at `base` and writes one GGUF file:
    /// the base's metadata (tokenizer and chat template included) and tensor order, each tensor
    /// stored as `types` chooses. Tensors `types` leaves in their type and the adapter does not
    /// touch are copied byte for byte (checked on the written file before it appears); the folded
    /// ones are encoded as llama.cpp's reference quantizers encode. Everything that could refuse
    /// the merge (adapter, types) is checked before the file is begun.
    public static func writeGGUF(base: String, adapter: String, to file: String, types: GGUFTensorTypes) throws {
        try StagedFolder.checkFree(file: file, what: "merged model")
        let (checkpoint, adapters) = try adaptedWeights(base: base, adapter: adapter)
        guard let gguf = checkpoint.gguf else {
            throw InputError(file: base, "a GGUF merge needs a GGUF base, whose metadata and tokenizer it carries over; merge a Hugging Face folder with --format hf")
        }
        var writer = GGUFWriter()
        for key in gguf.metadataKeys { try writer.setMetadata(key, gguf.metadata[key]!) }
        if let fileType = types.fileType { try writer.setMetadata("general.file_type", .uint32(fileType)) }
        var copied: [String] = []
        for info in gguf.tensors {
            let adapter = adapters[Qwen2TensorNames.canonical(ggufName: info.name)]
            let type = types.type(of: info)
            func fail(_ message: String) -> InputError { InputError(file: base, at: "tensor \(info.name)", message) }
            if adapter == nil && type == info.type {
                copied.append(info.name)
                try writer.addTensor(info.name, type: type, shape: info.shape) { buffer in
                    buffer.copyMemory(from: try gguf.tensor(named: info.name).bytes)
                }
                continue
            }
            guard info.type.isSupported else {
                throw fail("stored as \(info.type.name), which medtune cannot decode to re-encode; choose --gguf-type keep to copy it as it is")
            }
            let rowLength = info.dimensions[0]
            guard rowLength % type.blockSize == 0 else {
                throw fail("rows of \(rowLength) elements are not whole \(type.name) blocks of \(type.blockSize); choose --gguf-type f16")
            }
            try writer.addTensor(info.name, type: type, shape: info.shape) { buffer in
                let weight = try gguf.tensor(named: info.name).floats()
                let values = adapter.map { folded(weight, $0) } ?? weight
                encode(values, as: type, rowLength: rowLength, into: buffer)
            }
        }
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: file).deletingLastPathComponent(), withIntermediateDirectories: true)
        try writer.write(to: file) { written in
            for name in copied {
                let original = try gguf.tensor(named: name).bytes, copy = try written.tensor(named: name).bytes
                guard copy.count == original.count, memcmp(copy.baseAddress!, original.baseAddress!, copy.count) == 0 else {
                    throw SystemError("\(written.path): tensor \(name) does not read back byte for byte as the base stores it")
                }
            }
        }
    }

    /// The base's checkpoint and the adapter's LoRA pairs by the canonical name of the weight each
    /// adapts. Loading the adapter into the base model refuses one made for another model.
    private static func adaptedWeights(base: String, adapter: String) throws -> (ModelCheckpoint, [String: LoRAAdapter<Float>]) {
        let (model, checkpoint) = try Qwen2Model<Float>.load(path: base)
        _ = try PEFTAdapter.load(adapter, into: model)
        return (checkpoint, Dictionary(uniqueKeysWithValues: model.attachedAdapters.map { ($0.site.modulePath + ".weight", $0.adapter) }))
    }

    /// weight [out × in] + scale · B[out × r] · A[r × in], in float32.
    static func folded(_ weight: [Float], _ adapter: LoRAAdapter<Float>) -> [Float] {
        var result = weight
        result.withUnsafeMutableBufferPointer { c in
            Matmul.gemm(m: adapter.outFeatures, n: adapter.inFeatures, k: adapter.rank, alpha: Float(adapter.scale),
                        a: UnsafePointer(adapter.b.buffer.baseAddress!), b: UnsafePointer(adapter.a.buffer.baseAddress!),
                        beta: 1, c: c.baseAddress!)
        }
        return result
    }

    /// `values` (rows of `rowLength`) encoded as `type`, rows in parallel.
    private static func encode(_ values: [Float], as type: StorageType, rowLength: Int, into buffer: UnsafeMutableRawBufferPointer) {
        let rows = values.count / rowLength, rowBytes = buffer.count / rows
        let destination = buffer.baseAddress!
        values.withUnsafeBufferPointer { source in
            let source = source.baseAddress!
            Parallel.forRanges(rows, grain: max(1, 16384 / rowLength)) { range in
                for r in range {
                    RowCodec.quantize(type, source + r * rowLength, into: destination + r * rowBytes, count: rowLength)
                }
            }
        }
    }
}

/// How a merged GGUF stores its tensors (`--gguf-type`).
public enum GGUFTensorTypes: String, CaseIterable, Sendable {
    /// Every tensor in the base's type: untouched ones byte for byte, folded ones re-encoded.
    case keep
    /// Tensors of two or more dimensions as Q8_0 or F16. One-dimensional tensors (norm weights,
    /// biases) stay as the base stores them (F32 in llama.cpp's files), as llama-quantize and
    /// convert_hf_to_gguf keep them: they are tiny and LoRA does not touch them.
    case q8_0, f16

    func type(of info: GGUFTensorInfo) -> StorageType {
        switch self {
        case .keep: info.type
        case .q8_0: info.dimensions.count >= 2 ? .q8_0 : info.type
        case .f16: info.dimensions.count >= 2 ? .f16 : info.type
        }
    }

    /// `general.file_type` (llama.cpp's `llama_ftype`) of a file whose weights are all this type;
    /// `keep` keeps the base's.
    var fileType: UInt32? {
        switch self {
        case .keep: nil
        case .q8_0: 7  // LLAMA_FTYPE_MOSTLY_Q8_0
        case .f16: 1  // LLAMA_FTYPE_MOSTLY_F16
        }
    }
}
