/// Text to token ids and back, exactly as a model was trained.
public protocol Tokenizer: AnyObject, Sendable {
    /// The ids of `text`. With `allowSpecial`, the text of a special token (`<|im_start|>`,
    /// `[CLS]`) becomes that token; without it, it is tokenized as the characters it is made of.
    /// Plain added tokens such as `<think>` are matched either way, as in the reference
    /// implementations. `addSpecialTokens` wraps the ids in the model's template: a BOS where the
    /// model wants one, `[CLS] … [SEP]` for BERT.
    func encode(_ text: String, allowSpecial: Bool, addSpecialTokens: Bool) -> [Int]

    /// The text of `ids`; special tokens are left out when `skipSpecial` is set. Bytes that do
    /// not form valid UTF-8 come out as U+FFFD.
    func decode(_ ids: [Int], skipSpecial: Bool) -> String

    /// How many ids the vocabulary assigns (the highest id + 1).
    var vocabularySize: Int { get }

    /// The model's BOS, EOS, padding and unknown tokens, where it has them.
    var specialTokenIds: SpecialTokenIds { get }

    /// The token as the vocabulary spells it (`Ġthe`, `##ing`, `<|im_end|>`), for display.
    func tokenText(_ id: Int) -> String?

    /// The id of a token spelled as the vocabulary spells it.
    func tokenId(_ text: String) -> Int?

    /// Whether `id` is a special token (skipped by `decode(_:skipSpecial: true)`).
    func isSpecial(_ id: Int) -> Bool
}

public struct SpecialTokenIds: Sendable, Equatable {
    public var bos: Int?
    public var eos: Int?
    public var pad: Int?
    public var unknown: Int?

    public init(bos: Int? = nil, eos: Int? = nil, pad: Int? = nil, unknown: Int? = nil) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
        self.unknown = unknown
    }
}

extension Tokenizer {
    /// The ids of `text` with special tokens matched and the model's template added.
    public func encode(_ text: String) -> [Int] { encode(text, allowSpecial: true, addSpecialTokens: true) }

    public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecial: false) }

    public var bosTokenId: Int? { specialTokenIds.bos }
    public var eosTokenId: Int? { specialTokenIds.eos }
    public var padTokenId: Int? { specialTokenIds.pad }
}

/// Runs `body` over the UTF-8 bytes of `text` without copying when the string is native.
@inline(__always)
func withUTF8<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    var text = text
    return text.withUTF8(body)
}
