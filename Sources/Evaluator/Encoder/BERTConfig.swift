import Foundation
import MedtuneCore

/// The parts of a Hugging Face BERT `config.json` the encoder needs.
public struct BERTConfig: Equatable, Sendable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabularySize: Int
    public var layerNormEps: Double

    public init(vocabularySize: Int, hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int,
                maxPositions: Int, typeVocabularySize: Int = 2, layerNormEps: Double = 1e-12) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabularySize = typeVocabularySize
        self.layerNormEps = layerNormEps
    }

    /// Reads `config.json`; models other than BERT with exact GELU and absolute positions are
    /// refused with a message saying what was found.
    public init(path: String) throws {
        let object: [String: Any]
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let parsed = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw InputError(file: path, "is not a JSON object")
            }
            object = parsed
        } catch let error as InputError {
            throw error
        } catch {
            throw InputError(file: path, "cannot read the model config: \(error.localizedDescription)")
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            if let v = object[key] as? Int, v > 0 { return v }
            if object[key] == nil, let value { return value }
            throw InputError(file: path, at: key, "missing or not a positive integer")
        }
        let modelType = object["model_type"] as? String ?? "(none)"
        guard modelType == "bert" else {
            throw InputError(file: path, at: "model_type", "is \"\(modelType)\"; the BERTScore encoder reads BERT models (model_type \"bert\"); for a Qwen2 model give it as --bert together with --num-layers")
        }
        let activation = object["hidden_act"] as? String ?? "gelu"
        guard activation == "gelu" else {
            throw InputError(file: path, at: "hidden_act", "is \"\(activation)\"; only BERT's exact (erf) \"gelu\" is supported")
        }
        let positions = object["position_embedding_type"] as? String ?? "absolute"
        guard positions == "absolute" else {
            throw InputError(file: path, at: "position_embedding_type", "is \"\(positions)\"; only \"absolute\" is supported")
        }
        self.init(vocabularySize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
                  layerCount: try int("num_hidden_layers"), headCount: try int("num_attention_heads"),
                  intermediateSize: try int("intermediate_size"), maxPositions: try int("max_position_embeddings", default: 512),
                  typeVocabularySize: try int("type_vocab_size", default: 2),
                  layerNormEps: (object["layer_norm_eps"] as? Double) ?? 1e-12)
        guard hiddenSize % headCount == 0 else {
            throw InputError(file: path, at: "num_attention_heads", "\(headCount) heads do not divide hidden_size \(hiddenSize)")
        }
    }
}
