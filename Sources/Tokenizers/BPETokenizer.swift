import MedtuneCore

/// Byte-level BPE as used by Qwen2 and DeepSeek-R1-Distill-Qwen: added tokens are matched
/// first, the rest is normalized (if the source says so), split by the Qwen2 pre-tokenizer and
/// merged word by word.
public final class BPETokenizer: Tokenizer {
    /// How text is split into words before merging.
    public enum PreTokenizer: String, Sendable, CaseIterable {
        /// The Qwen2 Split regex followed by ByteLevel (also DeepSeek-R1-Distill-Qwen's).
        case qwen2
    }

    /// What happens to text before it is split. GGUF files carry no normalizer (and llama.cpp
    /// applies none); the official Qwen2 `tokenizer.json` asks for NFC.
    public enum Normalizer: String, Sendable {
        case none
        case nfc
    }

    /// Everything a BPE tokenizer is made of, as `tokenizer.json` and GGUF files state it.
    public struct Configuration: Sendable {
        /// Tokens by id, spelled in the byte-level alphabet (added tokens may be plain text);
        /// an empty string leaves an id unassigned.
        public var tokens: [String]
        /// Merges in rank order, each as the two tokens it joins, spelled like `tokens`.
        public var merges: [(String, String)]
        public var addedTokens: [AddedToken]
        public var preTokenizer: PreTokenizer
        public var normalizer: Normalizer
        public var specialTokenIds: SpecialTokenIds
        /// Whether `addSpecialTokens` puts BOS in front / EOS at the end.
        public var addBos: Bool
        public var addEos: Bool
        /// A word that is a token in its own right skips merging.
        public var ignoreMerges: Bool
        /// The model's chat template (Jinja), when the source carries one.
        public var chatTemplate: String?
        /// The file it came from, for error messages.
        public var source: String

        public init(tokens: [String], merges: [(String, String)], addedTokens: [AddedToken] = [],
                    preTokenizer: PreTokenizer = .qwen2, normalizer: Normalizer = .none,
                    specialTokenIds: SpecialTokenIds = SpecialTokenIds(), addBos: Bool = false, addEos: Bool = false,
                    ignoreMerges: Bool = false, chatTemplate: String? = nil, source: String) {
            self.tokens = tokens
            self.merges = merges
            self.addedTokens = addedTokens
            self.preTokenizer = preTokenizer
            self.normalizer = normalizer
            self.specialTokenIds = specialTokenIds
            self.addBos = addBos
            self.addEos = addEos
            self.ignoreMerges = ignoreMerges
            self.chatTemplate = chatTemplate
            self.source = source
        }
    }

    public let specialTokenIds: SpecialTokenIds
    public let preTokenizer: PreTokenizer
    public let normalizer: Normalizer
    public let addedTokens: [AddedToken]
    public let chatTemplate: String?
    /// Whether encoding with special tokens puts BOS before / EOS after the text.
    public let addBos: Bool
    public let addEos: Bool

    let model: BytePairModel
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    /// The added token at each id, for decoding and display.
    private let addedById: [Int: AddedToken]
    private let specialFlags: [Bool]
    private let states = EncodingStatePool()

    public init(_ configuration: Configuration) throws {
        let source = configuration.source
        var tokens = configuration.tokens
        let highestAdded = configuration.addedTokens.map(\.id).max() ?? -1
        if highestAdded >= tokens.count { tokens += Array(repeating: "", count: highestAdded + 1 - tokens.count) }
        var addedById: [Int: AddedToken] = [:]
        for token in configuration.addedTokens {
            guard token.id >= 0 else {
                throw InputError(file: source, at: "added token \"\(token.content)\"", "negative id \(token.id)")
            }
            tokens[token.id] = token.content
            addedById[token.id] = token
        }
        let vocabulary = TokenTable(tokens.enumerated().map { id, text in
            addedById[id] != nil ? Array(text.utf8) : (ByteLevel.bytes(spelledAs: text) ?? Array(text.utf8))
        })

        var byteTokens = [UInt32](repeating: 0, count: 256)
        for byte in 0..<256 {
            guard let id = vocabulary.id(of: [UInt8(byte)]) else {
                throw InputError(file: source, at: "vocabulary",
                                 "no token for byte \(byte) (\"\(ByteLevel.characterForByte[byte])\"); byte-level BPE needs all 256")
            }
            byteTokens[byte] = UInt32(id)
        }

        var merges = MergeTable(capacityFor: configuration.merges.count)
        for (rank, (left, right)) in configuration.merges.enumerated() {
            func resolve(_ bytes: [UInt8], _ what: String) throws -> UInt32 {
                guard let id = vocabulary.id(of: bytes) else {
                    throw InputError(file: source, at: "merges[\(rank)]",
                                     "\"\(left) \(right)\" \(what) \"\(ByteLevel.spelling(of: bytes))\", which is not in the vocabulary")
                }
                return UInt32(id)
            }
            let leftBytes = ByteLevel.bytes(spelledAs: left) ?? Array(left.utf8)
            let rightBytes = ByteLevel.bytes(spelledAs: right) ?? Array(right.utf8)
            merges.set(left: try resolve(leftBytes, "names"), right: try resolve(rightBytes, "names"),
                       rank: UInt32(rank), merged: try resolve(leftBytes + rightBytes, "makes"))
        }

        for (name, id) in [("bos", configuration.specialTokenIds.bos), ("eos", configuration.specialTokenIds.eos),
                           ("pad", configuration.specialTokenIds.pad), ("unknown", configuration.specialTokenIds.unknown)] {
            if let id, !(0..<tokens.count).contains(id) {
                throw InputError(file: source, at: "\(name) token", "id \(id) is outside the vocabulary of \(tokens.count)")
            }
        }
        if configuration.addBos && configuration.specialTokenIds.bos == nil {
            throw InputError(file: source, at: "bos token", "the model adds a BOS token but names none")
        }
        if configuration.addEos && configuration.specialTokenIds.eos == nil {
            throw InputError(file: source, at: "eos token", "the model adds an EOS token but names none")
        }

        var specialFlags = [Bool](repeating: false, count: tokens.count)
        for token in configuration.addedTokens where token.special { specialFlags[token.id] = true }

        model = BytePairModel(vocabulary: vocabulary, merges: merges, byteTokens: byteTokens,
                              ignoreMerges: configuration.ignoreMerges)
        rawMatcher = AddedTokenMatcher(configuration.addedTokens.filter { !$0.normalized || configuration.normalizer == .none })
        normalizedMatcher = AddedTokenMatcher(configuration.addedTokens.filter { $0.normalized && configuration.normalizer != .none }
            .map { token in
                var token = token
                if configuration.normalizer == .nfc { token.content = token.content.precomposedForNFC }
                return token
            })
        self.addedById = addedById
        self.specialFlags = specialFlags
        self.addedTokens = configuration.addedTokens.sorted { $0.id < $1.id }
        specialTokenIds = configuration.specialTokenIds
        preTokenizer = configuration.preTokenizer
        normalizer = configuration.normalizer
        addBos = configuration.addBos
        addEos = configuration.addEos
        chatTemplate = configuration.chatTemplate
    }

    public var vocabularySize: Int { model.vocabulary.count }

    // MARK: Encoding

    public func encode(_ text: String, allowSpecial: Bool, addSpecialTokens: Bool) -> [Int] {
        var output: [UInt32] = []
        output.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecialTokens, addBos, let bos = specialTokenIds.bos { output.append(UInt32(bos)) }
        states.with { state in
            withUTF8(text) { bytes in
                rawMatcher.split(bytes, includeSpecial: allowSpecial) { piece in
                    switch piece {
                    case .token(let token):
                        output.append(UInt32(token.id))
                    case .text(let range):
                        encodeSegment(UnsafeBufferPointer(rebasing: bytes[range]), allowSpecial, state, &output)
                    }
                }
            }
        }
        if addSpecialTokens, addEos, let eos = specialTokenIds.eos { output.append(UInt32(eos)) }
        return output.map(Int.init)
    }

    private func encodeSegment(_ segment: UnsafeBufferPointer<UInt8>, _ allowSpecial: Bool, _ state: EncodingState,
                               _ output: inout [UInt32]) {
        if normalizer == .nfc, let normalized = Normalization.nfc(segment) {
            normalized.withUnsafeBufferPointer { encodeNormalized($0, allowSpecial, state, &output) }
        } else {
            encodeNormalized(segment, allowSpecial, state, &output)
        }
    }

    private func encodeNormalized(_ segment: UnsafeBufferPointer<UInt8>, _ allowSpecial: Bool, _ state: EncodingState,
                                  _ output: inout [UInt32]) {
        guard !normalizedMatcher.isEmpty else { return encodeWords(segment, state, &output) }
        normalizedMatcher.split(segment, includeSpecial: allowSpecial) { piece in
            switch piece {
            case .token(let token): output.append(UInt32(token.id))
            case .text(let range): encodeWords(UnsafeBufferPointer(rebasing: segment[range]), state, &output)
            }
        }
    }

    private func encodeWords(_ segment: UnsafeBufferPointer<UInt8>, _ state: EncodingState, _ output: inout [UInt32]) {
        Qwen2PreTokenizer.split(segment) { range in
            let word = UnsafeBufferPointer(rebasing: segment[range])
            guard word.count > 1, word.count <= WordCache.maximumWordLength else {
                return model.encode(word, into: &output, scratch: &state.scratch)
            }
            let hash = TokenTable.hash(word)
            if state.cache.append(word, hash: hash, to: &output) { return }
            let start = output.count
            model.encode(word, into: &output, scratch: &state.scratch)
            state.cache.insert(word, hash: hash, tokens: output[start...])
        }
    }

    // MARK: Decoding

    public func decode(_ ids: [Int], skipSpecial: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, skipSpecial: skipSpecial, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the bytes a token stands for; unknown ids add nothing.
    @inline(__always)
    func appendBytes(of id: Int, skipSpecial: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, id < vocabularySize, !(skipSpecial && specialFlags[id]) else { return }
        model.vocabulary.withBytes(of: id) { bytes.append(contentsOf: $0) }
    }

    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < vocabularySize && specialFlags[id] }

    public func tokenText(_ id: Int) -> String? {
        guard id >= 0, id < vocabularySize else { return nil }
        if let added = addedById[id] { return added.content }
        return ByteLevel.spelling(of: model.vocabulary.bytes(of: id))
    }

    public func tokenId(_ text: String) -> Int? {
        if let added = addedTokens.first(where: { $0.content == text }) { return added.id }
        return ByteLevel.bytes(spelledAs: text).flatMap { model.vocabulary.id(of: $0) }
    }

    /// The raw bytes of a token.
    public func tokenBytes(_ id: Int) -> [UInt8]? {
        guard id >= 0, id < vocabularySize else { return nil }
        return model.vocabulary.bytes(of: id)
    }
}

extension String {
    var precomposedForNFC: String {
        let bytes = Array(utf8)
        return bytes.withUnsafeBufferPointer { Normalization.nfc($0) }.map { String(decoding: $0, as: UTF8.self) } ?? self
    }
}
