import Foundation
import MedtuneCore
import Records
import TestSupport
import Trainer
import Transformer

/// Bytes as token ids, EOS = 256: a tokenizer whose output is obvious by inspection.
struct ByteTokenizer: TrainingTokenizer {
    func encode(_ text: String) throws -> [Int32] { text.utf8.map { Int32($0) } }
    var eosTokenID: Int32 { 256 }
}

enum Fixture {
    /// A configuration with the required paths filled in, computing in float32 on every machine.
    static func config(_ edit: (inout TrainingConfig) -> Void = { _ in }) -> TrainingConfig {
        var config = TrainingConfig()
        config.model = "model.gguf"
        config.data = "data.jsonl"
        config.matmulPrecision = .float32
        edit(&config)
        return config
    }

    static func records(_ objects: [[String: String]]) -> [SourceRecord] {
        objects.enumerated().map { SourceRecord(index: $0.offset, line: $0.offset + 1, values: $0.element) }
    }

    /// A tiny Qwen2 over the byte vocabulary, adapters attached as the configuration says.
    static func model<T: DecoderScalar>(_ config: TrainingConfig, seed: UInt64 = 3, as: T.Type = T.self) -> Qwen2Model<T> {
        var shape = TinyQwen.Shape()
        shape.vocabulary = 257
        shape.hidden = 16
        shape.heads = 2
        shape.kvHeads = 1
        shape.intermediate = 24
        shape.targets = []
        let model: Qwen2Model<T> = TinyQwen.make(shape, seed: seed)
        LoRASetup.attach(to: model, config: config)
        return model
    }

    static func write(_ text: String, to directory: URL, name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}
