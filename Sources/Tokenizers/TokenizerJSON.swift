import Foundation
import MedtuneCore

/// Reads Hugging Face `tokenizer.json` files: byte-level BPE in the Qwen2 layout, and BERT
/// WordPiece. Anything else is refused with an error naming the entry, rather than tokenized
/// differently from the model's training.
enum TokenizerJSON {
    static let qwen2SplitPattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    static func load(_ url: URL, config: TokenizerConfig?) throws -> any Tokenizer {
        let root = try JSONFields.read(url)
        let model = try root.object("model")
        switch try model.string("type") {
        case "BPE": return try BPETokenizer(bpeConfiguration(root, model, config: config))
        case "WordPiece": return try WordPieceTokenizer(wordPieceConfiguration(root, model, config: config))
        case let other: throw model.error("type", "unsupported model type \"\(other)\" (supported: BPE, WordPiece)")
        }
    }

    // MARK: BPE

    static func bpeConfiguration(_ root: JSONFields, _ model: JSONFields, config: TokenizerConfig?) throws -> BPETokenizer.Configuration {
        if try model.bool("byte_fallback", default: false) { throw model.error("byte_fallback", "byte fallback is not supported") }
        if model.has("dropout") { throw model.error("dropout", "BPE dropout is not supported") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] where !(try model.optionalString(key) ?? "").isEmpty {
            throw model.error(key, "subword prefixes and suffixes are not supported in byte-level BPE")
        }
        let tokens = try vocabulary(model)
        let merges = try mergePairs(model)
        let added = try addedTokens(root)
        let preTokenizer = try bpePreTokenizer(root)
        let normalizer = try bpeNormalizer(root)
        let template = try postProcessorTemplate(root)

        func id(of content: String?, _ role: String) throws -> Int? {
            guard let content else { return nil }
            if let token = added.first(where: { $0.content == content }) { return token.id }
            if let index = tokens.firstIndex(of: content) { return index }
            throw InputError(file: config?.file ?? root.file, at: role, "\"\(content)\" is not a token of \(root.file)")
        }
        let bos = try id(of: config?.bosToken ?? template.prefix, "bos_token")
        let eos = try id(of: config?.eosToken ?? template.suffix, "eos_token")
        return BPETokenizer.Configuration(
            tokens: tokens, merges: merges, addedTokens: added, preTokenizer: preTokenizer, normalizer: normalizer,
            specialTokenIds: SpecialTokenIds(bos: bos, eos: eos, pad: try id(of: config?.padToken, "pad_token"),
                                             unknown: try id(of: config?.unknownToken ?? model.optionalString("unk_token"), "unk_token")),
            addBos: config?.addBosToken ?? (template.prefix != nil),
            addEos: config?.addEosToken ?? (template.suffix != nil),
            ignoreMerges: try model.bool("ignore_merges", default: false),
            chatTemplate: config?.chatTemplate, source: root.file)
    }

    /// `model.vocab` as tokens by id; ids no entry names stay empty.
    static func vocabulary(_ model: JSONFields) throws -> [String] {
        let vocab = try model.object("vocab")
        var tokens: [String] = []
        for (token, value) in vocab.members {
            guard let id = value.int, id >= 0, id < 1 << 24 else {
                throw vocab.error(token, "expected a token id")
            }
            if id >= tokens.count { tokens += Array(repeating: "", count: id + 1 - tokens.count) }
            tokens[id] = token
        }
        return tokens
    }

    /// `model.merges`, written either as "a b" strings or as ["a", "b"] pairs.
    static func mergePairs(_ model: JSONFields) throws -> [(String, String)] {
        try model.array("merges").enumerated().map { index, entry in
            if let text = entry.string {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw model.error("merges[\(index)]", "\"\(text)\" is not two tokens separated by one space") }
                return (String(parts[0]), String(parts[1]))
            }
            if let pair = entry.array, pair.count == 2, let left = pair[0].string, let right = pair[1].string {
                return (left, right)
            }
            throw model.error("merges[\(index)]", "expected \"a b\" or [\"a\", \"b\"]")
        }
    }

    static func addedTokens(_ root: JSONFields) throws -> [AddedToken] {
        guard root.has("added_tokens") else { return [] }
        return try root.objects("added_tokens").map { entry in
            if try entry.bool("single_word", default: false) {
                throw entry.error("single_word", "single-word added tokens are not supported")
            }
            return AddedToken(id: try entry.int("id"), content: try entry.string("content"),
                              special: try entry.bool("special", default: false),
                              stripLeft: try entry.bool("lstrip", default: false),
                              stripRight: try entry.bool("rstrip", default: false),
                              normalized: try entry.bool("normalized", default: true))
        }
    }

    /// The Qwen2 layout: Split on the Qwen2 regex (isolated), then ByteLevel without its regex.
    static func bpePreTokenizer(_ root: JSONFields) throws -> BPETokenizer.PreTokenizer {
        let unsupported = root.error("pre_tokenizer", "unsupported pre-tokenizer: medtune reads the Qwen2 layout (Split on the Qwen2 regex, then ByteLevel with use_regex false)")
        guard let pre = try root.optionalObject("pre_tokenizer"), try pre.string("type") == "Sequence" else { throw unsupported }
        let steps = try pre.objects("pretokenizers")
        guard steps.count == 2, try steps[0].string("type") == "Split", try steps[1].string("type") == "ByteLevel" else { throw unsupported }
        let pattern = try steps[0].object("pattern")
        guard try pattern.optionalString("Regex") == qwen2SplitPattern else {
            throw steps[0].error("pattern", "unsupported split pattern (only the Qwen2 regex is implemented)")
        }
        guard try steps[0].string("behavior") == "Isolated", try !steps[0].bool("invert", default: false) else {
            throw steps[0].error("behavior", "expected behavior Isolated without invert")
        }
        if try steps[1].bool("add_prefix_space", default: false) {
            throw steps[1].error("add_prefix_space", "a prefix space is not supported")
        }
        if try steps[1].bool("use_regex", default: true) {
            throw steps[1].error("use_regex", "ByteLevel must not split again after the Qwen2 regex")
        }
        return .qwen2
    }

    static func bpeNormalizer(_ root: JSONFields) throws -> BPETokenizer.Normalizer {
        guard let normalizer = try root.optionalObject("normalizer") else { return .none }
        let type = try normalizer.string("type")
        if type == "NFC" { return .nfc }
        if type == "Sequence" {
            let steps = try normalizer.objects("normalizers")
            if steps.isEmpty { return .none }
            if steps.count == 1, try steps[0].string("type") == "NFC" { return .nfc }
        }
        throw root.error("normalizer", "unsupported normalizer \"\(type)\" (supported: none, NFC)")
    }

    /// The tokens a TemplateProcessing post-processor puts around a single sequence: at most
    /// one before and one after.
    static func postProcessorTemplate(_ root: JSONFields) throws -> (prefix: String?, suffix: String?) {
        guard let processor = try root.optionalObject("post_processor") else { return (nil, nil) }
        switch try processor.string("type") {
        case "ByteLevel":
            return (nil, nil)
        case "TemplateProcessing":
            let steps = try processor.objects("single")
            guard let sequence = steps.firstIndex(where: { $0.has("Sequence") }) else {
                throw processor.error("single", "the template has no sequence")
            }
            func special(_ step: JSONFields) throws -> String { try step.object("SpecialToken").string("id") }
            let before = try steps[..<sequence].map(special)
            let after = try steps[(sequence + 1)...].map(special)
            guard before.count <= 1, after.count <= 1 else {
                throw processor.error("single", "templates with more than one token before or after the text are not supported")
            }
            return (before.first, after.first)
        case let other:
            throw root.error("post_processor", "unsupported post-processor \"\(other)\"")
        }
    }

    // MARK: WordPiece

    static func wordPieceConfiguration(_ root: JSONFields, _ model: JSONFields, config: TokenizerConfig?) throws -> WordPieceTokenizer.Configuration {
        var configuration = WordPieceTokenizer.Configuration(tokens: try vocabulary(model), source: root.file)
        configuration.unknownToken = try model.optionalString("unk_token") ?? configuration.unknownToken
        configuration.continuingSubwordPrefix = try model.optionalString("continuing_subword_prefix") ?? "##"
        configuration.maxInputCharsPerWord = try model.optionalInt("max_input_chars_per_word") ?? 100
        configuration.addedTokens = try addedTokens(root)

        guard let normalizer = try root.optionalObject("normalizer"), try normalizer.string("type") == "BertNormalizer" else {
            throw root.error("normalizer", "a WordPiece tokenizer needs a BertNormalizer")
        }
        configuration.cleanText = try normalizer.bool("clean_text", default: true)
        configuration.handleChineseChars = try normalizer.bool("handle_chinese_chars", default: true)
        configuration.stripAccents = try normalizer.optionalBool("strip_accents")
        configuration.lowercase = try normalizer.bool("lowercase", default: true)
        guard let pre = try root.optionalObject("pre_tokenizer"), try pre.string("type") == "BertPreTokenizer" else {
            throw root.error("pre_tokenizer", "a WordPiece tokenizer needs a BertPreTokenizer")
        }
        let template = try postProcessorTemplate(root)
        configuration.classifierToken = template.prefix ?? config?.classifierToken ?? configuration.classifierToken
        configuration.separatorToken = template.suffix ?? config?.separatorToken ?? configuration.separatorToken
        configuration.paddingToken = config?.padToken ?? configuration.paddingToken
        let truncation = try root.optionalObject("truncation")?.optionalInt("max_length")
        configuration.modelMaxLength = config?.modelMaxLength ?? truncation
        return configuration
    }
}
