import Foundation
import MedtuneCore

public enum ModelFormat: String, Sendable {
    case gguf = "GGUF"
    case safetensors = "safetensors"
}

/// A Qwen2 model on disk, in either format: its config and its tensors under canonical
/// (Hugging Face) names. Opening reads headers only; every tensor is checked against the config
/// then, and its bytes are mapped when asked for.
public final class ModelCheckpoint: @unchecked Sendable {
    /// What the user passed: a Hugging Face folder or a .gguf file.
    public let path: String
    public let format: ModelFormat
    public let config: Qwen2Config
    public let source: TensorSource
    /// The GGUF file, whose metadata also holds the tokenizer and chat template.
    public let gguf: GGUFFile?
    /// Canonical name → the name inside the file.
    private let fileNames: [String: String]
    private let entries: [String: TensorEntry]

    /// Opens a Hugging Face model folder (config.json + safetensors) or a GGUF file.
    public static func open(_ path: String) throws -> ModelCheckpoint {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw InputError(file: path, "no such file or folder")
        }
        if isDirectory.boolValue {
            let configPath = (path as NSString).appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: configPath) else {
                throw InputError(file: path, "not a model folder: config.json is missing")
            }
            let config = try Qwen2Config(huggingFaceConfig: configPath)
            return try ModelCheckpoint(path: path, format: .safetensors, config: config,
                                       source: SafetensorsFolder(directory: path), gguf: nil) { $0 }
        }
        let gguf = try GGUFFile(path: path)
        return try ModelCheckpoint(path: path, format: .gguf, config: Qwen2Config(gguf: gguf), source: gguf, gguf: gguf,
                                   canonical: Qwen2TensorNames.canonical(ggufName:))
    }

    init(path: String, format: ModelFormat, config: Qwen2Config, source: TensorSource, gguf: GGUFFile?,
         canonical: (String) -> String) throws {
        self.path = path
        self.format = format
        self.config = config
        self.source = source
        self.gguf = gguf
        var fileNames: [String: String] = [:]
        var entries: [String: TensorEntry] = [:]
        for entry in source.tensorEntries {
            let name = canonical(entry.name)
            if let other = fileNames.updateValue(entry.name, forKey: name) {
                throw InputError(file: entry.file, at: "tensor \(entry.name)", "maps onto \(name) like \(other)")
            }
            entries[name] = entry
        }
        self.fileNames = fileNames
        self.entries = entries
        for (name, shape) in Qwen2TensorNames.expected(config) {
            guard let entry = entries[name] else {
                throw InputError(file: path, at: "tensor \(name)", "missing from the model")
            }
            guard entry.shape == shape else {
                throw InputError(file: entry.file, at: "tensor \(entry.name)",
                                 "shape \(entry.shape) does not match \(shape) implied by the config")
            }
        }
    }

    /// Canonical names of every tensor, sorted.
    public var tensorNames: [String] { entries.keys.sorted() }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// What the file says about a tensor, by canonical name.
    public func entry(_ name: String) -> TensorEntry? { entries[name] }

    /// The tensor with canonical name `name`, its bytes mapped.
    public func tensor(_ name: String) throws -> StoredTensor {
        guard let fileName = fileNames[name] else {
            throw InputError(file: path, at: "tensor \(name)", "missing from the model")
        }
        return try source.tensor(named: fileName)
    }

    /// A frozen linear layer's weight [out × in], kept in its stored type.
    public func linear(_ name: String) throws -> LinearWeight {
        try LinearWeight(tensor(name))
    }

    /// A small tensor (norm weight, bias) decoded to float32.
    public func floats(_ name: String) throws -> [Float] {
        try tensor(name).floats()
    }

    /// The output projection: `lm_head.weight`, or the embedding when the two are tied.
    public func outputProjection() throws -> LinearWeight {
        try linear(contains(Qwen2TensorNames.lmHead) && !config.tieWordEmbeddings ? Qwen2TensorNames.lmHead : Qwen2TensorNames.embedding)
    }
}
