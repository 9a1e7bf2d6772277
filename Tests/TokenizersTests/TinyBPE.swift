import Foundation
import TestSupport
@testable import Tokenizers

/// A byte-level BPE small enough to work out by hand: the 256 byte tokens take ids 0-255 (id =
/// byte value), then the merges' results in order.
enum TinyBPE {
    static let merges: [(String, String)] = [
        ("h", "e"),      // 256 he
        ("l", "l"),      // 257 ll
        ("he", "ll"),    // 258 hell
        ("ll", "o"),     // 259 llo
        ("Ġ", "w"),      // 260 Ġw
        ("ä", "¸"),      // 261 the first two bytes of 中 (E4 B8)
        ("ä¸", "Ń"),     // 262 中 (E4 B8 AD)
    ]

    static var tokens: [String] {
        (0..<256).map { String(ByteLevel.characterForByte[$0]) } + merges.map { $0.0 + $0.1 }
    }

    static let addedTokens = [
        AddedToken(id: 263, content: "<|end|>", special: true),
        AddedToken(id: 264, content: "<|end|><|x|>", special: true),
        AddedToken(id: 265, content: "<think>", special: false),
        AddedToken(id: 266, content: "<s>", special: true, stripLeft: true, stripRight: true),
    ]

    static func configuration(normalizer: BPETokenizer.Normalizer = .none) -> BPETokenizer.Configuration {
        BPETokenizer.Configuration(tokens: tokens, merges: merges, addedTokens: addedTokens, normalizer: normalizer,
                                   specialTokenIds: SpecialTokenIds(bos: 266, eos: 263), addBos: true, source: "tiny")
    }

    static func make() throws -> BPETokenizer { try BPETokenizer(configuration()) }

    /// The tiny vocabulary as a tokenizer.json object, merges written as "a b" strings.
    static func json() -> [String: Any] {
        var vocab: [String: Int] = [:]
        for (id, token) in tokens.enumerated() { vocab[token] = id }
        return [
            "version": "1.0",
            "added_tokens": addedTokens.map {
                ["id": $0.id, "content": $0.content, "special": $0.special, "lstrip": $0.stripLeft, "rstrip": $0.stripRight,
                 "single_word": false, "normalized": false] as [String: Any]
            },
            "normalizer": NSNull(),
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": TokenizerJSON.qwen2SplitPattern], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false],
            ]] as [String: Any],
            "post_processor": ["type": "ByteLevel"],
            "decoder": ["type": "ByteLevel"],
            "model": ["type": "BPE", "vocab": vocab, "merges": merges.map { "\($0.0) \($0.1)" }] as [String: Any],
        ]
    }

    /// Writes `object` as tokenizer.json in a fresh folder and returns the file.
    static func write(_ object: [String: Any], in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        return url
    }
}
