import Foundation
import MedtuneCore

/// The weights of a Hugging Face model folder: `model.safetensors`, or shards listed by
/// `model.safetensors.index.json` ("weight_map": tensor name → shard file).
public final class SafetensorsFolder: TensorSource, @unchecked Sendable {
    public let directory: String
    public let shards: [SafetensorsFile]
    public let tensorEntries: [TensorEntry]
    private let owner: [String: SafetensorsFile]

    public init(directory: String) throws {
        self.directory = directory
        let indexPath = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        let singlePath = (directory as NSString).appendingPathComponent("model.safetensors")
        var shards: [SafetensorsFile] = []
        var owner: [String: SafetensorsFile] = [:]
        if FileManager.default.fileExists(atPath: indexPath) {
            let index = try JSONValue.parse(contentsOf: indexPath)
            guard let map = index["weight_map"]?.members else {
                throw InputError(file: indexPath, at: "weight_map", "missing or not an object")
            }
            var byShard: [String: SafetensorsFile] = [:]
            for (name, value) in map {
                guard let shardName = value.string, !shardName.contains("/"), !shardName.hasPrefix(".") else {
                    throw InputError(file: indexPath, at: "weight_map.\(name)", "must name a file in the folder")
                }
                let shard: SafetensorsFile
                if let open = byShard[shardName] {
                    shard = open
                } else {
                    let shardPath = (directory as NSString).appendingPathComponent(shardName)
                    guard FileManager.default.fileExists(atPath: shardPath) else {
                        throw InputError(file: shardPath, at: "tensor \(name)", "missing shard named by \(indexPath)")
                    }
                    shard = try SafetensorsFile(path: shardPath)
                    byShard[shardName] = shard
                    shards.append(shard)
                }
                owner[name] = shard
            }
            for shard in shards {
                for entry in shard.tensorEntries where owner[entry.name] !== shard {
                    let problem = owner[entry.name].map { "listed in \(indexPath) as held by \($0.path)" } ?? "not listed in \(indexPath)"
                    throw InputError(file: shard.path, at: "tensor \(entry.name)", problem)
                }
            }
            let held = Set(shards.flatMap { $0.tensorEntries.map(\.name) })
            for (name, shard) in owner where !held.contains(name) {
                throw InputError(file: shard.path, at: "tensor \(name)", "listed in \(indexPath) but absent from the shard")
            }
        } else if FileManager.default.fileExists(atPath: singlePath) {
            let file = try SafetensorsFile(path: singlePath)
            shards = [file]
            for entry in file.tensorEntries { owner[entry.name] = file }
        } else {
            throw InputError(file: directory, "holds neither model.safetensors nor model.safetensors.index.json")
        }
        self.shards = shards
        self.owner = owner
        tensorEntries = shards.flatMap(\.tensorEntries)
    }

    public func tensor(named name: String) throws -> StoredTensor {
        guard let shard = owner[name] else {
            throw InputError(file: directory, at: "tensor \(name)", "no such tensor in the model")
        }
        return try shard.tensor(named: name)
    }
}
