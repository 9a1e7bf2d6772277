import MedtuneCore

/// The hyper-parameters of a Qwen2-style decoder, from a Hugging Face `config.json` or from the
/// `qwen2.*` keys of a GGUF file.
public struct Qwen2Config: Codable, Equatable, Sendable {
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var intermediateSize: Int
    public var ropeTheta: Double
    public var rmsNormEpsilon: Double
    public var vocabSize: Int
    public var tieWordEmbeddings: Bool
    public var maxPositionEmbeddings: Int

    public static let supportedArchitectures = ["qwen2"]

    public init(hiddenSize: Int, layerCount: Int, headCount: Int, kvHeadCount: Int, intermediateSize: Int,
                ropeTheta: Double = 1_000_000, rmsNormEpsilon: Double = 1e-6, vocabSize: Int,
                tieWordEmbeddings: Bool = false, maxPositionEmbeddings: Int = 32768) {
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.intermediateSize = intermediateSize
        self.ropeTheta = ropeTheta
        self.rmsNormEpsilon = rmsNormEpsilon
        self.vocabSize = vocabSize
        self.tieWordEmbeddings = tieWordEmbeddings
        self.maxPositionEmbeddings = maxPositionEmbeddings
    }

    public var headDim: Int { hiddenSize / headCount }

    /// Fails unless the numbers describe a model that can exist; `file` names the source.
    public func validate(file: String) throws {
        func fail(_ what: String, _ message: String) -> InputError { InputError(file: file, at: what, message) }
        // Bounds far beyond any real model, so that a damaged file cannot make medtune plan for
        // millions of layers.
        for (name, value, limit) in [("hidden size", hiddenSize, 1 << 17), ("layer count", layerCount, 1 << 10),
                                     ("head count", headCount, 1 << 12), ("key-value head count", kvHeadCount, 1 << 12),
                                     ("intermediate size", intermediateSize, 1 << 20), ("vocabulary size", vocabSize, 1 << 24),
                                     ("context length", maxPositionEmbeddings, 1 << 26)] {
            guard value > 0, value <= limit else { throw fail(name, "\(value) is out of range (1...\(limit))") }
        }
        guard hiddenSize % headCount == 0 else { throw fail("head count", "\(headCount) does not divide the hidden size \(hiddenSize)") }
        guard headCount % kvHeadCount == 0 else { throw fail("key-value head count", "\(kvHeadCount) does not divide the head count \(headCount)") }
        guard headDim % 2 == 0 else { throw fail("head count", "head dimension \(headDim) must be even for rotary embeddings") }
        guard ropeTheta > 0, ropeTheta.isFinite else { throw fail("rope theta", "\(ropeTheta) must be positive") }
        guard rmsNormEpsilon > 0, rmsNormEpsilon < 1 else { throw fail("rms norm epsilon", "\(rmsNormEpsilon) is out of range") }
    }

    // MARK: Hugging Face config.json

    /// Reads a Hugging Face `config.json` of `model_type` qwen2.
    public init(huggingFaceConfig path: String) throws {
        try self.init(huggingFaceConfig: JSONValue.parse(contentsOf: path), file: path)
    }

    public init(huggingFaceConfig json: JSONValue, file: String) throws {
        func fail(_ key: String, _ message: String) -> InputError { InputError(file: file, at: key, message) }
        guard let modelType = json["model_type"]?.string else { throw fail("model_type", "missing") }
        guard Self.supportedArchitectures.contains(modelType) else {
            throw fail("model_type", "'\(modelType)' is not supported (supported: \(Self.supportedArchitectures.joined(separator: ", ")))")
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let v = json[key] else {
                if let value { return value }
                throw fail(key, "missing")
            }
            guard let i = v.int else { throw fail(key, "must be an integer") }
            return i
        }
        func number(_ key: String, in object: JSONValue? = nil, default value: Double) throws -> Double {
            guard let v = (object ?? json)[key], v != .null else { return value }
            guard let d = v.double else { throw fail(key, "must be a number") }
            return d
        }
        let heads = try int("num_attention_heads")
        // transformers 5 moves rope_theta into rope_parameters.
        let ropeTheta = try json["rope_parameters"].map { try number("rope_theta", in: $0, default: 10_000) }
            ?? number("rope_theta", default: 10_000)
        self.init(hiddenSize: try int("hidden_size"), layerCount: try int("num_hidden_layers"),
                  headCount: heads, kvHeadCount: try int("num_key_value_heads", default: heads),
                  intermediateSize: try int("intermediate_size"), ropeTheta: ropeTheta,
                  rmsNormEpsilon: try number("rms_norm_eps", default: 1e-6), vocabSize: try int("vocab_size"),
                  tieWordEmbeddings: json["tie_word_embeddings"]?.bool ?? false,
                  maxPositionEmbeddings: try int("max_position_embeddings", default: 32768))
        try validate(file: file)
    }

    // MARK: GGUF

    /// Reads the `<architecture>.*` keys of a GGUF file whose `general.architecture` is qwen2.
    /// Embeddings are tied when the file has no separate `output.weight`.
    public init(gguf: GGUFFile) throws {
        let path = gguf.path
        func fail(_ key: String, _ message: String) -> InputError { InputError(file: path, at: key, message) }
        guard let architecture = gguf.metadata["general.architecture"]?.string else {
            throw fail("general.architecture", "missing")
        }
        guard Self.supportedArchitectures.contains(architecture) else {
            throw fail("general.architecture", "'\(architecture)' is not supported (supported: \(Self.supportedArchitectures.joined(separator: ", ")))")
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            let full = "\(architecture).\(key)"
            guard let v = gguf.metadata[full] else {
                if let value { return value }
                throw fail(full, "missing")
            }
            guard let i = v.int else { throw fail(full, "must be an integer, not \(v.typeName)") }
            return i
        }
        func number(_ key: String, default value: Double) throws -> Double {
            let full = "\(architecture).\(key)"
            guard let v = gguf.metadata[full] else { return value }
            // A float32 1e-6 is read as the 1e-6 it was written from, so that both formats of
            // one model give equal configs.
            if case .float32(let f) = v, let decimal = Double("\(f)") { return decimal }
            guard let d = v.double else { throw fail(full, "must be a number, not \(v.typeName)") }
            return d
        }
        let vocab: Int
        if let tokens = gguf.metadata["tokenizer.ggml.tokens"] {
            guard let count = tokens.array?.count else { throw fail("tokenizer.ggml.tokens", "must be an array") }
            vocab = count
        } else if let embedding = gguf.info(named: "token_embd.weight") {
            vocab = embedding.shape.first ?? 0
        } else {
            throw fail("tokenizer.ggml.tokens", "missing, and no token_embd.weight to size the vocabulary")
        }
        let heads = try int("attention.head_count")
        self.init(hiddenSize: try int("embedding_length"), layerCount: try int("block_count"),
                  headCount: heads, kvHeadCount: try int("attention.head_count_kv", default: heads),
                  intermediateSize: try int("feed_forward_length"), ropeTheta: try number("rope.freq_base", default: 10_000),
                  rmsNormEpsilon: try number("attention.layer_norm_rms_epsilon", default: 1e-6), vocabSize: vocab,
                  tieWordEmbeddings: gguf.info(named: "output.weight") == nil,
                  maxPositionEmbeddings: try int("context_length", default: 32768))
        try validate(file: path)
    }
}
