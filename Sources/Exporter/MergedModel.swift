import Foundation
import MedtuneCore
import ModelFiles
import Tokenizers
import Transformer

/// A base model with a LoRA adapter folded into its weights, W + scale · B·A, written as a
/// Hugging Face folder that any engine serves without PEFT. The fold is computed in float32 and
/// rounded once to the folder's dtype; every other tensor is the base's own. The base file is
/// only read.
public enum MergedModel {
    /// Folds the PEFT adapter at `adapter` into the model at `base` (an HF folder or a GGUF file)
    /// and writes the result to `folder` as `dtype`. An adapter that does not fit the base (names,
    /// shapes) is refused by `PEFTAdapter.load` before anything is written.
    public static func write(base: String, adapter: String, to folder: String, dtype: StorageType,
                             shardBytes: Int = HuggingFaceFolder.defaultShardBytes) throws {
        try StagedFolder.checkFree(folder, what: "merged model")
        let (model, checkpoint) = try Qwen2Model<Float>.load(path: base)
        _ = try PEFTAdapter.load(adapter, into: model)
        let tokenizer = try TokenizerLoader.loadBPE(path: base)
        let adapters = Dictionary(uniqueKeysWithValues: model.attachedAdapters.map { ($0.site.modulePath + ".weight", $0.adapter) })
        try StagedFolder.create(folder, what: "merged model") { staging in
            try HuggingFaceFolder.write(checkpoint, tokenizer: tokenizer, to: staging, dtype: dtype, shardBytes: shardBytes) { name in
                let weight = try checkpoint.tensor(name).floats()
                return adapters[name].map { folded(weight, $0) } ?? weight
            }
        }
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
}
