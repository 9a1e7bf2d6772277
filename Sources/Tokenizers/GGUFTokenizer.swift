import MedtuneCore
import ModelFiles

extension BPETokenizer {
    /// The tokenizer described by a GGUF file's metadata (`tokenizer.ggml.*`).
    ///
    /// A GGUF carries no normalizer, and llama.cpp, which these files are made for, applies
    /// none; so neither does this tokenizer. (The official Qwen2 `tokenizer.json` asks for NFC:
    /// the two differ only on text that is not already NFC, such as decomposed accents.)
    /// Control tokens (type 3) become special added tokens, user-defined ones (type 4, such as
    /// `<think>`) plain added tokens; both are matched whole before BPE, as llama.cpp does.
    public convenience init(gguf: GGUFFile) throws {
        try self.init(Self.configuration(gguf: gguf))
    }

    static func configuration(gguf: GGUFFile) throws -> Configuration {
        let file = gguf.path
        let metadata = gguf.metadata
        func value(_ key: String) throws -> GGUFValue {
            guard let value = metadata[key] else { throw InputError(file: file, at: key, "missing (not a tokenizer GGUF?)") }
            return value
        }
        func strings(_ key: String) throws -> [String] {
            let found = try value(key)
            guard let strings = found.strings else { throw InputError(file: file, at: key, "expected an array of strings, found \(found.typeName)") }
            return strings
        }
        func tokenId(_ key: String) throws -> Int? {
            guard let found = metadata[key] else { return nil }
            guard let id = found.int else { throw InputError(file: file, at: key, "expected an integer, found \(found.typeName)") }
            return id
        }
        func flag(_ key: String) throws -> Bool {
            guard let found = metadata[key] else { return false }
            guard let flag = found.bool else { throw InputError(file: file, at: key, "expected a bool, found \(found.typeName)") }
            return flag
        }

        let model = try value("tokenizer.ggml.model")
        guard model.string == "gpt2" else {
            throw InputError(file: file, at: "tokenizer.ggml.model",
                             "unsupported tokenizer model \(model.string.map { "\"\($0)\"" } ?? model.typeName) (medtune reads byte-level BPE, \"gpt2\")")
        }
        let pre = try value("tokenizer.ggml.pre")
        guard let preName = pre.string, let preTokenizer = Self.preTokenizers[preName] else {
            throw InputError(file: file, at: "tokenizer.ggml.pre",
                             "unsupported pre-tokenizer \(pre.string.map { "\"\($0)\"" } ?? pre.typeName) (supported: \(Self.preTokenizers.keys.sorted().joined(separator: ", ")))")
        }

        let tokens = try strings("tokenizer.ggml.tokens")
        var types = [Int](repeating: TokenType.normal, count: tokens.count)
        if let found = metadata["tokenizer.ggml.token_type"] {
            guard let values = found.ints, values.count == tokens.count else {
                throw InputError(file: file, at: "tokenizer.ggml.token_type",
                                 "expected \(tokens.count) integers (one per token), found \(found.typeName)")
            }
            types = values
        }
        let merges = try strings("tokenizer.ggml.merges").enumerated().map { index, merge in
            let parts = merge.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw InputError(file: file, at: "tokenizer.ggml.merges[\(index)]", "\"\(merge)\" is not two tokens separated by one space")
            }
            return (String(parts[0]), String(parts[1]))
        }
        var added: [AddedToken] = []
        for (id, type) in types.enumerated() where type == TokenType.control || type == TokenType.userDefined {
            added.append(AddedToken(id: id, content: tokens[id], special: type == TokenType.control))
        }
        return Configuration(
            tokens: tokens, merges: merges, addedTokens: added, preTokenizer: preTokenizer, normalizer: .none,
            specialTokenIds: SpecialTokenIds(bos: try tokenId("tokenizer.ggml.bos_token_id"),
                                             eos: try tokenId("tokenizer.ggml.eos_token_id"),
                                             pad: try tokenId("tokenizer.ggml.padding_token_id"),
                                             unknown: try tokenId("tokenizer.ggml.unknown_token_id")),
            addBos: try flag("tokenizer.ggml.add_bos_token"), addEos: try flag("tokenizer.ggml.add_eos_token"),
            chatTemplate: metadata["tokenizer.chat_template"]?.string, source: file)
    }

    /// `tokenizer.ggml.pre` names, as llama.cpp maps them: DeepSeek-R1-Distill-Qwen keeps Qwen2's split.
    static let preTokenizers: [String: PreTokenizer] = ["qwen2": .qwen2, "deepseek-r1-qwen": .qwen2]

    /// llama.cpp's token types.
    enum TokenType {
        static let normal = 1
        static let control = 3
        static let userDefined = 4
    }
}
