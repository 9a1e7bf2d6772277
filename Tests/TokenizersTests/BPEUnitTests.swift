import Foundation
import MedtuneCore
import TestSupport
@testable import Tokenizers
import XCTest

/// Byte-level BPE on a hand-made vocabulary, where every expected id is worked out by hand.
final class BPEUnitTests: XCTestCase {
    let h = 104, l = 108, o = 111, space = 32

    func testLowestRankMergesFirst() throws {
        let tokenizer = try TinyBPE.make()
        // h e l l o: he (rank 0), ll (1), then hell (2) beats llo (3), and "hell o" has no merge.
        XCTAssertEqual(tokenizer.encode("hello", allowSpecial: true, addSpecialTokens: false), [258, o])
        // Equal ranks merge leftmost first: (l l) l, not l (l l).
        XCTAssertEqual(tokenizer.encode("lll", allowSpecial: true, addSpecialTokens: false), [257, l])
        // "llo" without an h: ll, then llo.
        XCTAssertEqual(tokenizer.encode("llo", allowSpecial: true, addSpecialTokens: false), [259])
        // Words are merged separately: " w" is a word of its own and becomes Ġw.
        XCTAssertEqual(tokenizer.encode("hello world", allowSpecial: true, addSpecialTokens: false).prefix(3), [258, o, 260])
    }

    func testMultiByteCharacterMergesFromBytes() throws {
        let tokenizer = try TinyBPE.make()
        XCTAssertEqual(tokenizer.encode("中", allowSpecial: true, addSpecialTokens: false), [262])
        XCTAssertEqual(tokenizer.encode("中中", allowSpecial: true, addSpecialTokens: false), [262, 262])
        XCTAssertEqual(tokenizer.decode([262, 262]), "中中")
    }

    func testAddedTokensMatchLeftmostLongest() throws {
        let tokenizer = try TinyBPE.make()
        XCTAssertEqual(tokenizer.encode("<|end|><|x|>h", allowSpecial: true, addSpecialTokens: false), [264, h])
        XCTAssertEqual(tokenizer.encode("<|end|><|y|>", allowSpecial: true, addSpecialTokens: false).first, 263)
        XCTAssertEqual(tokenizer.encode("<think><|end|>", allowSpecial: true, addSpecialTokens: false), [265, 263])
    }

    func testSpecialTokensAsPlainText() throws {
        let tokenizer = try TinyBPE.make()
        let plain = tokenizer.encode("<|end|>", allowSpecial: false, addSpecialTokens: false)
        XCTAssertFalse(plain.contains(263))
        XCTAssertEqual(tokenizer.decode(plain), "<|end|>")
        // Plain added tokens such as <think> are matched either way, as in the reference.
        XCTAssertEqual(tokenizer.encode("<think>", allowSpecial: false, addSpecialTokens: false), [265])
    }

    func testStripLeftAndRightAbsorbWhitespace() throws {
        let tokenizer = try TinyBPE.make()
        XCTAssertEqual(tokenizer.encode("h  <s>  h", allowSpecial: true, addSpecialTokens: false), [h, 266, h])
    }

    func testBosAddedOnlyWithTemplate() throws {
        let tokenizer = try TinyBPE.make()
        XCTAssertEqual(tokenizer.encode("h", allowSpecial: true, addSpecialTokens: true), [266, h])
        XCTAssertEqual(tokenizer.encode("h"), [266, h])
        XCTAssertEqual(tokenizer.encode("h", allowSpecial: true, addSpecialTokens: false), [h])
        XCTAssertEqual(tokenizer.bosTokenId, 266)
        XCTAssertEqual(tokenizer.eosTokenId, 263)
    }

    func testDecodeSkipsSpecialOnRequest() throws {
        let tokenizer = try TinyBPE.make()
        XCTAssertEqual(tokenizer.decode([263, 258, o, 265], skipSpecial: false), "<|end|>hello<think>")
        XCTAssertEqual(tokenizer.decode([263, 258, o, 265], skipSpecial: true), "hello<think>")
        // Ids outside the vocabulary add nothing rather than trapping.
        XCTAssertEqual(tokenizer.decode([-1, 9999, h]), "h")
    }

    func testDecodeRoundTripsArbitraryText() throws {
        let tokenizer = try TinyBPE.make()
        for text in ["hello 中文 \t\n\r\n  x", "\u{0}\u{1F}\u{7F}é\u{301}👨‍👩‍👧", "", " ", "<|end|>x<s>"] {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text, allowSpecial: false, addSpecialTokens: false)), text)
        }
    }

    func testTokenTextAndIdAreInverse() throws {
        let tokenizer = try TinyBPE.make()
        XCTAssertEqual(tokenizer.tokenText(260), "Ġw")
        XCTAssertEqual(tokenizer.tokenId("Ġw"), 260)
        XCTAssertEqual(tokenizer.tokenText(263), "<|end|>")
        XCTAssertEqual(tokenizer.tokenId("<|end|>"), 263)
        XCTAssertEqual(tokenizer.tokenBytes(space), [0x20])
        XCTAssertNil(tokenizer.tokenText(10_000))
    }

    func testTokenizerJSONWithStringMergesLoads() throws {
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokenizer = try TokenizerLoader.load(path: TinyBPE.write(TinyBPE.json(), in: folder).path)
        XCTAssertEqual(tokenizer.encode("hello", allowSpecial: true, addSpecialTokens: false), [258, o])
        XCTAssertEqual(tokenizer.encode("<|end|><|x|>", allowSpecial: true, addSpecialTokens: false), [264])
    }

    func testExportedJSONLoadsBackIdentically() throws {
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = try TinyBPE.make()
        let url = folder.appendingPathComponent("tokenizer.json")
        try original.huggingFaceJSON().write(to: url)
        let loaded = try TokenizerLoader.loadBPE(path: url.path)
        for text in ["hello world", "<|end|><|x|>中 <s> x", "lll llo"] {
            XCTAssertEqual(loaded.encode(text), original.encode(text), text)
        }
        XCTAssertEqual(loaded.vocabularySize, original.vocabularySize)
    }

    func testNFCNormalizerComposesBeforeMerging() throws {
        let composed = try BPETokenizer(TinyBPE.configuration(normalizer: .nfc))
        let plain = try TinyBPE.make()
        XCTAssertEqual(composed.encode("e\u{301}", allowSpecial: true, addSpecialTokens: false),
                       plain.encode("é", allowSpecial: true, addSpecialTokens: false))
        XCTAssertNotEqual(plain.encode("e\u{301}", allowSpecial: true, addSpecialTokens: false),
                          plain.encode("é", allowSpecial: true, addSpecialTokens: false))
    }

    func testVeryLongWordFinishes() throws {
        // One 200k-byte word: the merge queue keeps this near-linear.
        let tokenizer = try TinyBPE.make()
        let ids = tokenizer.encode(String(repeating: "hello", count: 40_000).replacingOccurrences(of: "o", with: "l"),
                                   allowSpecial: true, addSpecialTokens: false)
        XCTAssertEqual(tokenizer.decode(ids), String(repeating: "helll", count: 40_000))
    }
}

/// The Qwen2 split regex, piece by piece on cases worked out from the regex by hand.
final class Qwen2PreTokenizerTests: XCTestCase {
    func pieces(_ text: String) -> [String] {
        var bytes = Array(text.utf8)
        var result: [String] = []
        bytes.withUnsafeMutableBufferPointer { buffer in
            let bytes = UnsafeBufferPointer(buffer)
            Qwen2PreTokenizer.split(bytes) { result.append(String(decoding: bytes[$0], as: UTF8.self)) }
        }
        return result
    }

    func testWordsAndSpaces() {
        XCTAssertEqual(pieces("Hello  world\n\n  x"), ["Hello", " ", " world", "\n\n", " ", " x"])
        XCTAssertEqual(pieces("a   "), ["a", "   "])
        XCTAssertEqual(pieces(" 1"), [" ", "1"])
    }

    func testContractionsAreCaseInsensitive() {
        XCTAssertEqual(pieces("I'M we'Re it'S"), ["I", "'M", " we", "'Re", " it", "'S"])
        XCTAssertEqual(pieces("'x"), ["'x"])
    }

    /// Cases checked against the reference regex engine (Oniguruma in `tokenizers` 0.23.3):
    /// case folding takes U+017F for `s` but no Kelvin sign for anything; U+2028, U+0085 and
    /// U+00A0 are whitespace.
    func testUnicodeCornersMatchTheRegexEngine() {
        XCTAssertEqual(pieces("a'ſx"), ["a", "'ſ", "x"])
        XCTAssertEqual(pieces("a'\u{212A}x"), ["a", "'\u{212A}x"])
        XCTAssertEqual(pieces("x\u{2028}\u{2028}y"), ["x", "\u{2028}", "\u{2028}y"])
        XCTAssertEqual(pieces("a \u{85} b"), ["a", " \u{85}", " b"])
        XCTAssertEqual(pieces("\u{A0}\u{A0}x"), ["\u{A0}", "\u{A0}x"])
    }

    func testNumbersSplitIntoSingleDigits() {
        XCTAssertEqual(pieces("12.5"), ["1", "2", ".", "5"])
    }

    func testPunctuationTakesTrailingLineBreaks() {
        XCTAssertEqual(pieces("end.\n\nNext"), ["end", ".\n\n", "Next"])
        XCTAssertEqual(pieces("a !?\r\nb"), ["a", " !?\r\n", "b"])
    }

    func testWhitespaceBeforeLineBreakEndsAfterTheLastBreak() {
        XCTAssertEqual(pieces("x \n \n  y"), ["x", " \n \n", " ", " y"])
    }

    func testLetterRunsIncludeOneLeadingSymbol() {
        XCTAssertEqual(pieces("(hello) 中文，好"), ["(hello", ")", " 中文", "，好"])
    }
}

/// Bad tokenizer files fail with an error naming the file and the entry.
final class TokenizerFileErrorTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try TestPaths.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func assertError(_ object: [String: Any], mentions parts: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let url = try TinyBPE.write(object, in: folder)
        XCTAssertThrowsError(try TokenizerLoader.load(path: url.path), file: file, line: line) { error in
            XCTAssertTrue(error is MedtuneError, "\(error)", file: file, line: line)
            let text = "\(error)"
            for part in parts + [url.path] {
                XCTAssertTrue(text.contains(part), "\"\(text)\" does not mention \(part)", file: file, line: line)
            }
        }
    }

    func testMissingFile() {
        XCTAssertThrowsError(try TokenizerLoader.load(path: folder.appendingPathComponent("nothing.json").path)) { error in
            XCTAssertTrue("\(error)".contains("nothing.json"))
        }
        XCTAssertThrowsError(try TokenizerLoader.load(path: folder.path)) { error in
            XCTAssertTrue("\(error)".contains("neither tokenizer.json nor vocab.txt"), "\(error)")
        }
    }

    func testMalformedJSON() throws {
        let url = folder.appendingPathComponent("tokenizer.json")
        try Data("{\"model\": {\"type\": \"BPE\", ".utf8).write(to: url)
        XCTAssertThrowsError(try TokenizerLoader.load(path: url.path)) { error in
            XCTAssertTrue("\(error)".hasPrefix(url.path), "\(error)")
            XCTAssertTrue("\(error)".contains("invalid JSON"), "\(error)")
            XCTAssertTrue("\(error)".contains("byte "), "\(error)")
        }
    }

    func testUnsupportedModelType() throws {
        var object = TinyBPE.json()
        object["model"] = ["type": "Unigram", "vocab": []] as [String: Any]
        try assertError(object, mentions: ["model.type", "Unigram"])
    }

    func testUnsupportedPreTokenizer() throws {
        var object = TinyBPE.json()
        object["pre_tokenizer"] = ["type": "Whitespace"]
        try assertError(object, mentions: ["pre_tokenizer"])
        object["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": "\\s+"], "behavior": "Isolated", "invert": false],
            ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false],
        ]] as [String: Any]
        try assertError(object, mentions: ["pre_tokenizer.pretokenizers[0].pattern"])
    }

    func testMergeNamingUnknownToken() throws {
        var object = TinyBPE.json()
        var model = object["model"] as! [String: Any]
        model["merges"] = ["h e", "l l", "x qq"]
        object["model"] = model
        try assertError(object, mentions: ["merges[2]", "\"qq\""])
        model["merges"] = ["h e", "he o"]  // "heo" is not a token
        object["model"] = model
        try assertError(object, mentions: ["merges[1]", "makes \"heo\""])
        model["merges"] = ["h e", "he"]
        object["model"] = model
        try assertError(object, mentions: ["model.merges[1]"])
    }

    func testMissingByteToken() throws {
        var object = TinyBPE.json()
        var model = object["model"] as! [String: Any]
        var vocab = model["vocab"] as! [String: Int]
        vocab.removeValue(forKey: "Ā")
        model["vocab"] = vocab
        model["merges"] = [String]()
        object["model"] = model
        try assertError(object, mentions: ["vocabulary", "byte 0"])
    }

    func testUnsupportedNormalizer() throws {
        var object = TinyBPE.json()
        object["normalizer"] = ["type": "NFKC"]
        try assertError(object, mentions: ["normalizer", "NFKC"])
    }

    func testBadVocabularyId() throws {
        var object = TinyBPE.json()
        var model = object["model"] as! [String: Any]
        var vocab = model["vocab"] as! [String: Any]
        vocab["bad"] = "seven"
        model["vocab"] = vocab
        object["model"] = model
        try assertError(object, mentions: ["model.vocab.bad", "expected a token id"])
    }
}
