import Foundation
import MedtuneCore
import ModelFiles

extension BERTModel {
    /// Loads a Hugging Face BERT folder's encoder: `config.json` and `model.safetensors` (or
    /// shards with their index), stored as F32, F16 or BF16.
    public static func load(folder path: String) throws -> BERTModel {
        let folder = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw InputError(file: path, "no such file or folder")
        }
        guard isDirectory.boolValue else {
            throw InputError(file: path, "not a BERT model folder (config.json, model.safetensors, vocab.txt)")
        }
        let configPath = folder.appendingPathComponent("config.json").path
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw InputError(file: path, "not a model folder: config.json is missing")
        }
        let config = try BERTConfig(path: configPath)
        try requireSafetensors(folder)
        return try BERTModel(config: config, weights: TensorSourceWeights(try SafetensorsFolder(directory: path)), file: path)
    }

    /// A folder whose weights are only in PyTorch's pickle format gets an error naming the file
    /// medtune needs.
    static func requireSafetensors(_ folder: URL) throws {
        let exists = { FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
        if exists("model.safetensors") || exists("model.safetensors.index.json") { return }
        if exists("pytorch_model.bin") || exists("pytorch_model.bin.index.json") {
            throw InputError(file: folder.path, "has only pytorch_model.bin, which medtune does not read: it needs model.safetensors "
                             + "(convert once with transformers: AutoModel.from_pretrained(dir).save_pretrained(dir))")
        }
        throw InputError(file: folder.path, "holds no model weights: model.safetensors is missing")
    }
}

/// A safetensors folder seen as BERT weights, decoded to float32.
struct TensorSourceWeights: BERTWeightSource {
    let source: TensorSource
    init(_ source: TensorSource) { self.source = source }

    var tensorNames: [String] { source.tensorEntries.map(\.name) }

    func floats(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let tensor = try source.tensor(named: name)
        return (tensor.shape, try tensor.floats())
    }
}
