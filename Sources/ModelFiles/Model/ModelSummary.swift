import Foundation
import MedtuneCore

/// What `medtune inspect` reports about a model file or folder: read from headers and small
/// JSON files only, for any architecture (so unsupported models can be inspected too).
public struct ModelSummary: Codable, Equatable, Sendable {
    public struct TypeCount: Codable, Equatable, Sendable {
        public var type: String
        public var tensors: Int
        public var parameters: Int
        public var bytes: Int
    }

    public struct SpecialToken: Codable, Equatable, Sendable {
        public var id: Int?
        public var text: String?
    }

    public var path: String
    /// "GGUF v3" or "safetensors".
    public var format: String
    public var architecture: String
    /// Whether medtune can load the model for generation and training.
    public var supported: Bool
    public var parameters: Int
    public var tensorCount: Int
    public var types: [TypeCount]
    public var contextLength: Int?
    public var vocabSize: Int?
    public var specialTokens: [String: SpecialToken]
    public var chatTemplateBytes: Int?
    /// Tensor bytes that medtune maps (and the kernel pages in as they are used).
    public var mappedBytes: Int
    /// Estimated float32 memory on top of the mapping for `workingSetTokens` tokens in flight:
    /// decoded norms and biases, the key/value cache and per-token activations.
    public var workingSetBytes: Int
    public var workingSetTokens: Int
    /// Tensors whose data lies past the end of the file (an incomplete download).
    public var incompleteTensors: Int

    public var totalBytes: Int { mappedBytes + workingSetBytes }

    /// The model dimensions the working-set estimate needs, as the file states them (missing or
    /// negative values count as zero).
    struct Dimensions {
        var hidden: Double, layers: Double, intermediate: Double, kvWidth: Double, vocab: Double

        init(hidden: Int?, layers: Int?, intermediate: Int?, heads: Int?, kvHeads: Int?, vocab: Int?) {
            func value(_ v: Int?) -> Double { Double(max(v ?? 0, 0)) }
            self.hidden = value(hidden)
            self.layers = value(layers)
            self.intermediate = value(intermediate)
            self.vocab = value(vocab)
            let h = value(heads)
            kvWidth = h > 0 ? (kvHeads.map(value) ?? h) * (self.hidden / h).rounded(.down) : 0
        }
    }

    // MARK: Reading

    /// Summarises a GGUF file or a Hugging Face folder (config.json + safetensors).
    public static func inspect(_ path: String, tokens: Int = 2048) throws -> ModelSummary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw InputError(file: path, "no such file or folder")
        }
        return isDirectory.boolValue ? try folder(path, tokens: tokens) : try gguf(path, tokens: tokens)
    }

    private static func gguf(_ path: String, tokens: Int) throws -> ModelSummary {
        let file = try GGUFFile(path: path)
        let meta = file.metadata
        let architecture = meta["general.architecture"]?.string ?? "unknown"
        func int(_ key: String) -> Int? { meta["\(architecture).\(key)"]?.int }
        let vocabTokens = meta["tokenizer.ggml.tokens"]?.strings
        var special: [String: SpecialToken] = [:]
        for (role, key) in [("bos", "bos_token_id"), ("eos", "eos_token_id"), ("pad", "padding_token_id")] {
            guard let id = meta["tokenizer.ggml.\(key)"]?.int else { continue }
            let text = vocabTokens.flatMap { id >= 0 && id < $0.count ? $0[id] : nil }
            special[role] = SpecialToken(id: id, text: text)
        }
        let dims = Dimensions(hidden: int("embedding_length"), layers: int("block_count"), intermediate: int("feed_forward_length"),
                              heads: int("attention.head_count"), kvHeads: int("attention.head_count_kv"),
                              vocab: vocabTokens?.count)
        return summary(path: path, format: "GGUF v\(file.version)", architecture: architecture,
                       supported: (try? Qwen2Config(gguf: file)) != nil, entries: file.tensorEntries,
                       contextLength: int("context_length"), vocabSize: vocabTokens?.count, special: special,
                       chatTemplateBytes: meta["tokenizer.chat_template"]?.string?.utf8.count, dims: dims, tokens: tokens)
    }

    private static func folder(_ path: String, tokens: Int) throws -> ModelSummary {
        func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: file(name)) }
        guard exists("config.json") else { throw InputError(file: path, "not a model folder: config.json is missing") }
        let config = try JSONValue.parse(contentsOf: file("config.json"))
        let weights = try SafetensorsFolder(directory: path)
        let tokenizerConfig = exists("tokenizer_config.json") ? try JSONValue.parse(contentsOf: file("tokenizer_config.json")) : nil

        // Special tokens: text from tokenizer_config.json, ids from its added_tokens_decoder,
        // tokenizer.json's added_tokens, or config.json.
        var ids: [String: Int] = [:]
        for (id, entry) in tokenizerConfig?["added_tokens_decoder"]?.members ?? [] {
            if let text = entry["content"]?.string, let n = Int(id) { ids[text] = n }
        }
        if ids.isEmpty, exists("tokenizer.json") {
            for entry in try JSONValue.parse(contentsOf: file("tokenizer.json"))["added_tokens"]?.array ?? [] {
                if let text = entry["content"]?.string, let n = entry["id"]?.int { ids[text] = n }
            }
        }
        var special: [String: SpecialToken] = [:]
        for role in ["bos", "eos", "pad"] {
            let value = tokenizerConfig?["\(role)_token"]
            let text = value?.string ?? value?["content"]?.string
            let id = text.flatMap { ids[$0] } ?? config["\(role)_token_id"]?.int
            if text != nil || id != nil { special[role] = SpecialToken(id: id, text: text) }
        }
        var template = tokenizerConfig?["chat_template"]?.string?.utf8.count
        if template == nil, exists("chat_template.jinja") {
            template = (try? FileManager.default.attributesOfItem(atPath: file("chat_template.jinja"))[.size] as? Int) ?? nil
        }

        let dims = Dimensions(hidden: config["hidden_size"]?.int, layers: config["num_hidden_layers"]?.int,
                              intermediate: config["intermediate_size"]?.int, heads: config["num_attention_heads"]?.int,
                              kvHeads: config["num_key_value_heads"]?.int, vocab: config["vocab_size"]?.int)
        let modelType = config["model_type"]?.string ?? "unknown"
        let architecture = config["architectures"]?.array?.first?.string.map { "\(modelType) (\($0))" } ?? modelType
        return summary(path: path, format: "safetensors", architecture: architecture,
                       supported: (try? Qwen2Config(huggingFaceConfig: config, file: path)) != nil,
                       entries: weights.tensorEntries, contextLength: config["max_position_embeddings"]?.int,
                       vocabSize: config["vocab_size"]?.int, special: special, chatTemplateBytes: template,
                       dims: dims, tokens: tokens)
    }

    private static func summary(path: String, format: String, architecture: String, supported: Bool,
                                entries: [TensorEntry], contextLength: Int?, vocabSize: Int?,
                                special: [String: SpecialToken], chatTemplateBytes: Int?,
                                dims: Dimensions, tokens: Int) -> ModelSummary {
        var byType: [String: TypeCount] = [:]
        for e in entries {
            var t = byType[e.type.name] ?? TypeCount(type: e.type.name, tensors: 0, parameters: 0, bytes: 0)
            t.tensors += 1
            t.parameters = saturatingSum([t.parameters, e.elementCount])
            t.bytes = saturatingSum([t.bytes, e.byteCount])
            byType[e.type.name] = t
        }
        let vectorElements = saturatingSum(entries.filter { $0.shape.count <= 1 }.map(\.elementCount))
        let types = byType.values.sorted { $0.bytes > $1.bytes }
        // float32: decoded vectors; K and V for every layer and token; per token the residual
        // stream and its normalised copy, q/k/v/attention output, the MLP's three intermediate
        // products and the logits; plus one decoding block (≈1 MB) per core. In Double, since
        // the dimensions come from the file unchecked.
        let perToken = 2 * dims.layers * dims.kvWidth + 6 * dims.hidden + 3 * dims.intermediate + dims.vocab
        let workingSet = 4 * (Double(vectorElements) + Double(tokens) * perToken) + Double(Parallel.threads * (1 << 20))
        return ModelSummary(path: path, format: format, architecture: architecture, supported: supported,
                            parameters: saturatingSum(entries.map(\.elementCount)), tensorCount: entries.count,
                            types: types, contextLength: contextLength, vocabSize: vocabSize, specialTokens: special,
                            chatTemplateBytes: chatTemplateBytes, mappedBytes: saturatingSum(entries.map(\.byteCount)),
                            workingSetBytes: workingSet.isFinite && workingSet < 0x1p62 ? Int(workingSet) : Int.max / 2,
                            workingSetTokens: tokens,
                            incompleteTensors: entries.filter { !$0.isComplete }.count)
    }

    /// A sum that stops at Int.max instead of trapping (counts from a damaged file can be huge).
    private static func saturatingSum(_ values: [Int]) -> Int {
        values.reduce(0) { total, v in
            let (sum, overflow) = total.addingReportingOverflow(v)
            return overflow ? Int.max : sum
        }
    }

    // MARK: Text

    public var lines: [String] {
        var lines = [
            "model:          \(path)",
            "format:         \(format), \(tensorCount) tensors",
            "architecture:   \(architecture)\(supported ? "" : " (not supported by medtune: \(Qwen2Config.supportedArchitectures.joined(separator: ", ")) only)")",
            "parameters:     \(Self.count(parameters))",
        ]
        lines += types.enumerated().map { i, t in
            (i == 0 ? "storage:        " : "                ")
                + "\(t.type.padding(toLength: 5, withPad: " ", startingAt: 0)) \(String(t.tensors).leftPadded(4)) tensors  \(Self.count(t.parameters).leftPadded(7)) params  \(Self.bytes(t.bytes).leftPadded(10))"
        }
        lines.append("context:        \(contextLength.map { "\($0) tokens" } ?? "unknown")")
        lines.append("vocabulary:     \(vocabSize.map { "\($0) tokens" } ?? "unknown")")
        let specials = ["bos", "eos", "pad"].compactMap { role in
            specialTokens[role].map { "\(role) \($0.id.map(String.init) ?? "?")\($0.text.map { " \"\($0)\"" } ?? "")" }
        }
        lines.append("special tokens: \(specials.isEmpty ? "none" : specials.joined(separator: ", "))")
        lines.append("chat template:  \(chatTemplateBytes.map { "yes (\(Self.bytes($0)))" } ?? "no")")
        lines.append("memory:         \(Self.bytes(mappedBytes)) mapped weights + \(Self.bytes(workingSetBytes)) float32 working set (\(workingSetTokens) tokens) ≈ \(Self.bytes(totalBytes))")
        if incompleteTensors > 0 {
            lines.append("incomplete:     \(incompleteTensors) of \(tensorCount) tensors lie past the end of the file")
        }
        return lines
    }

    static func count(_ n: Int) -> String {
        switch n {
        case 1_000_000_000...: String(format: "%.2fB", Double(n) / 1e9)
        case 1_000_000...: String(format: "%.1fM", Double(n) / 1e6)
        case 1_000...: String(format: "%.1fK", Double(n) / 1e3)
        default: "\(n)"
        }
    }

    static func bytes(_ n: Int) -> String {
        switch n {
        case (1 << 30)...: String(format: "%.2f GiB", Double(n) / Double(1 << 30))
        case (1 << 20)...: String(format: "%.1f MiB", Double(n) / Double(1 << 20))
        case (1 << 10)...: String(format: "%.1f KiB", Double(n) / Double(1 << 10))
        default: "\(n) B"
        }
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
