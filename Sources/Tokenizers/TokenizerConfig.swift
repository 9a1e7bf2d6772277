import Foundation
import MedtuneCore

/// The parts of a Hugging Face `tokenizer_config.json` that change token ids: which tokens are
/// BOS/EOS/padding, whether BOS/EOS are added, BERT's casing options and the model's length.
struct TokenizerConfig {
    var file: String
    var bosToken: String?
    var eosToken: String?
    var padToken: String?
    var unknownToken: String?
    var classifierToken: String?
    var separatorToken: String?
    var addBosToken: Bool?
    var addEosToken: Bool?
    var lowercase: Bool?
    var stripAccents: Bool?
    var handleChineseChars: Bool?
    var modelMaxLength: Int?
    var chatTemplate: String?

    /// The config beside a tokenizer file, or nil when there is none.
    static func read(in folder: URL) throws -> TokenizerConfig? {
        let url = folder.appendingPathComponent("tokenizer_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let fields = try JSONFields.read(url)

        /// A token is written as its text, or as an object whose `content` is the text.
        func token(_ key: String) throws -> String? {
            guard fields.has(key) else { return nil }
            if let text = fields.value(key)?.string { return text }
            return try fields.object(key).string("content")
        }
        var config = TokenizerConfig(file: url.path)
        config.bosToken = try token("bos_token")
        config.eosToken = try token("eos_token")
        config.padToken = try token("pad_token")
        config.unknownToken = try token("unk_token")
        config.classifierToken = try token("cls_token")
        config.separatorToken = try token("sep_token")
        config.addBosToken = try fields.optionalBool("add_bos_token")
        config.addEosToken = try fields.optionalBool("add_eos_token")
        config.lowercase = try fields.optionalBool("do_lower_case")
        config.stripAccents = try fields.optionalBool("strip_accents")
        config.handleChineseChars = try fields.optionalBool("tokenize_chinese_chars")
        // transformers writes a huge placeholder when a model states no limit.
        if let length = fields.value("model_max_length")?.int, length < 1 << 40 {
            config.modelMaxLength = length
        }
        config.chatTemplate = try fields.optionalString("chat_template")
        return config
    }
}

/// BERT's `vocab.txt`: one token per line, the line number is the id.
enum VocabularyFile {
    /// Lines are split on "\n" only: bert-base-chinese has U+2028 LINE SEPARATOR tokens, and a
    /// split on every kind of line break would shift all ids after them.
    static func tokens(_ url: URL) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw InputError(file: url.path, "cannot read the vocabulary (missing or unreadable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw InputError(file: url.path, "the vocabulary is not UTF-8")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw InputError(file: url.path, "the vocabulary is empty") }
        return lines
    }

    static func wordPiece(_ url: URL, config: TokenizerConfig?) throws -> WordPieceTokenizer {
        var configuration = WordPieceTokenizer.Configuration(tokens: try tokens(url), source: url.path)
        if let config {
            configuration.lowercase = config.lowercase ?? true
            configuration.stripAccents = config.stripAccents
            configuration.handleChineseChars = config.handleChineseChars ?? true
            configuration.unknownToken = config.unknownToken ?? configuration.unknownToken
            configuration.classifierToken = config.classifierToken ?? configuration.classifierToken
            configuration.separatorToken = config.separatorToken ?? configuration.separatorToken
            configuration.paddingToken = config.padToken ?? configuration.paddingToken
            configuration.modelMaxLength = config.modelMaxLength
        }
        return try WordPieceTokenizer(configuration)
    }
}
