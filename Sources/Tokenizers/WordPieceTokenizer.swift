import Foundation
import MedtuneCore

/// BERT's WordPiece: each word becomes the longest vocabulary entry that starts it, then the
/// longest `##` entry that continues it, and so on; a word with no such split, or longer than
/// `maxInputCharsPerWord` characters, becomes `[UNK]`.
public final class WordPieceTokenizer: Tokenizer {
    public struct Configuration: Sendable {
        /// Tokens by id, as `vocab.txt` lists them.
        public var tokens: [String]
        public var unknownToken = "[UNK]"
        public var continuingSubwordPrefix = "##"
        public var maxInputCharsPerWord = 100
        public var lowercase = true
        /// nil: strip accents exactly when lower-casing, as BERT does.
        public var stripAccents: Bool? = nil
        public var cleanText = true
        public var handleChineseChars = true
        /// Matched whole before normalization; the five BERT specials when the source lists none.
        public var addedTokens: [AddedToken]? = nil
        public var classifierToken = "[CLS]"
        public var separatorToken = "[SEP]"
        public var paddingToken = "[PAD]"
        /// The longest input the model takes, special tokens included (`model_max_length`).
        public var modelMaxLength: Int? = nil
        public var source: String

        public init(tokens: [String], source: String) {
            self.tokens = tokens
            self.source = source
        }
    }

    public let specialTokenIds: SpecialTokenIds
    public let classifierId: Int
    public let separatorId: Int
    public let modelMaxLength: Int?
    public let addedTokens: [AddedToken]

    private let vocabulary: TokenTable
    private let prefix: [UInt8]
    private let unknownId: Int
    private let maxInputCharsPerWord: Int
    private let normalizer: BertNormalizer
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let specialFlags: [Bool]

    public init(_ configuration: Configuration) throws {
        let source = configuration.source
        let vocabulary = TokenTable(configuration.tokens.map { Array($0.utf8) })
        self.vocabulary = vocabulary
        func required(_ token: String, _ role: String) throws -> Int {
            guard let id = vocabulary.id(of: Array(token.utf8)) else {
                throw InputError(file: source, at: role, "\"\(token)\" is not in the vocabulary")
            }
            return id
        }
        let unknownId = try required(configuration.unknownToken, "unknown token")
        self.unknownId = unknownId
        classifierId = try required(configuration.classifierToken, "classifier token")
        separatorId = try required(configuration.separatorToken, "separator token")
        let paddingId = vocabulary.id(of: Array(configuration.paddingToken.utf8))
        specialTokenIds = SpecialTokenIds(pad: paddingId, unknown: unknownId)

        var added = configuration.addedTokens ?? []
        if configuration.addedTokens == nil {
            for token in [configuration.paddingToken, configuration.unknownToken, configuration.classifierToken,
                          configuration.separatorToken, "[MASK]"] {
                if let id = vocabulary.id(of: Array(token.utf8)) { added.append(AddedToken(id: id, content: token, special: true)) }
            }
        }
        var flags = [Bool](repeating: false, count: configuration.tokens.count)
        for token in added {
            guard (0..<configuration.tokens.count).contains(token.id) else {
                throw InputError(file: source, at: "added token \"\(token.content)\"",
                                 "id \(token.id) is outside the vocabulary of \(configuration.tokens.count)")
            }
            if token.special { flags[token.id] = true }
        }
        guard configuration.maxInputCharsPerWord > 0 else {
            throw InputError(file: source, at: "max_input_chars_per_word", "must be positive")
        }
        addedTokens = added
        specialFlags = flags
        let normalizer = BertNormalizer(cleanText: configuration.cleanText, handleChineseChars: configuration.handleChineseChars,
                                        stripAccents: configuration.stripAccents ?? configuration.lowercase,
                                        lowercase: configuration.lowercase)
        self.normalizer = normalizer
        rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized).map { token in
            var token = token
            token.content = normalizer.normalize(Substring(token.content))
            return token
        })
        prefix = Array(configuration.continuingSubwordPrefix.utf8)
        maxInputCharsPerWord = configuration.maxInputCharsPerWord
        modelMaxLength = configuration.modelMaxLength
    }

    public var vocabularySize: Int { vocabulary.count }

    public func encode(_ text: String, allowSpecial: Bool, addSpecialTokens: Bool) -> [Int] {
        encode(text, allowSpecial: allowSpecial, addSpecialTokens: addSpecialTokens, maxLength: nil)
    }

    /// The ids of `text`, cut so that at most `maxLength` ids remain with the special tokens
    /// counted; the `[SEP]` stays at the end.
    public func encode(_ text: String, allowSpecial: Bool = true, addSpecialTokens: Bool = true, maxLength: Int?) -> [Int] {
        var ids: [Int] = []
        var scratch: [UInt8] = []
        withUTF8(text) { bytes in
            rawMatcher.split(bytes, includeSpecial: allowSpecial) { piece in
                switch piece {
                case .token(let token):
                    ids.append(token.id)
                case .text(let range):
                    let segment = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
                    withUTF8(normalizer.normalize(Substring(segment))) { normalized in
                        // Tokens marked `normalized` are looked for in the normalized text.
                        normalizedMatcher.split(normalized, includeSpecial: allowSpecial) { piece in
                            switch piece {
                            case .token(let token):
                                ids.append(token.id)
                            case .text(let range):
                                let text = String(decoding: UnsafeBufferPointer(rebasing: normalized[range]), as: UTF8.self)
                                BertNormalizer.words(text) { appendPieces(of: $0, to: &ids, scratch: &scratch) }
                            }
                        }
                    }
                }
            }
        }
        if let maxLength {
            let room = max(0, maxLength - (addSpecialTokens ? 2 : 0))
            if ids.count > room { ids.removeLast(ids.count - room) }
        }
        return addSpecialTokens ? [classifierId] + ids + [separatorId] : ids
    }

    private func appendPieces(of word: Substring, to ids: inout [Int], scratch: inout [UInt8]) {
        guard word.unicodeScalars.count <= maxInputCharsPerWord else { return ids.append(unknownId) }
        let bytes = Array(word.utf8)
        let start = ids.count
        var pieceStart = 0
        while pieceStart < bytes.count {
            var pieceEnd = bytes.count
            var found: Int? = nil
            while pieceEnd > pieceStart {
                scratch.removeAll(keepingCapacity: true)
                if pieceStart > 0 { scratch.append(contentsOf: prefix) }
                scratch.append(contentsOf: bytes[pieceStart..<pieceEnd])
                if let id = vocabulary.id(of: scratch) {
                    found = id
                    break
                }
                // Back off one whole character.
                pieceEnd -= 1
                while pieceEnd > pieceStart, bytes[pieceEnd] & 0xC0 == 0x80 { pieceEnd -= 1 }
            }
            guard let id = found else {
                ids.removeLast(ids.count - start)
                return ids.append(unknownId)
            }
            ids.append(id)
            pieceStart = pieceEnd
        }
    }

    /// Text in the reference's WordPiece decoding: words joined by spaces, `##` pieces glued
    /// to the one before, and the spaces before common punctuation and contractions removed.
    public func decode(_ ids: [Int], skipSpecial: Bool) -> String {
        var text = ""
        var first = true
        for id in ids {
            guard id >= 0, id < vocabularySize, !(skipSpecial && specialFlags[id]) else { continue }
            let bytes = vocabulary.bytes(of: id)
            var token = String(decoding: bytes, as: UTF8.self)
            if !first {
                // Compared as bytes: as Characters, "##" + a combining mark is not "##".
                token = bytes.starts(with: prefix)
                    ? String(decoding: bytes.dropFirst(prefix.count), as: UTF8.self) : " " + token
            }
            first = false
            text += Self.cleanup(token)
        }
        return text
    }

    private static func cleanup(_ token: String) -> String {
        var token = token
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            token = token.replacingOccurrences(of: from, with: to)
        }
        return token
    }

    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < vocabularySize && specialFlags[id] }

    public func tokenText(_ id: Int) -> String? {
        guard id >= 0, id < vocabularySize else { return nil }
        return String(decoding: vocabulary.bytes(of: id), as: UTF8.self)
    }

    public func tokenId(_ text: String) -> Int? { vocabulary.id(of: Array(text.utf8)) }
}
