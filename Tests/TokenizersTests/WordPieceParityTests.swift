import Foundation
import TestSupport
import Tokenizers
import XCTest

/// WordPiece against ids from the reference (`tokenizers` / transformers' BertTokenizer) for
/// every corpus entry, with [CLS] … [SEP] added.
final class WordPieceParityTests: XCTestCase {
    func testMiniLMTokenizerJSONMatchesReference() throws {
        let folder = try TestPaths.require(TestPaths.miniLM)
        let tokenizer = try TokenizerLoader.load(path: folder.appendingPathComponent("tokenizer.json").path)
        try assertParity(tokenizer, golden: "minilm.json")
    }

    func testMiniLMVocabularyFileMatchesReference() throws {
        let folder = try TestPaths.require(TestPaths.miniLM)
        let tokenizer = try TokenizerLoader.load(path: folder.appendingPathComponent("vocab.txt").path)
        try assertParity(tokenizer, golden: "minilm.json")
    }

    func testBertBaseChineseMatchesReference() throws {
        let vocab = try TestPaths.require(TestPaths.sharedData.appendingPathComponent("bert-base-chinese-vocab.txt"))
        let tokenizer = try TokenizerLoader.load(path: vocab.path)
        XCTAssertEqual(tokenizer.vocabularySize, 21128)
        // The U+2028 entries keep their ids only if the file is split on "\n" alone.
        XCTAssertEqual(tokenizer.tokenText(343), "\u{2028}")
        XCTAssertEqual(tokenizer.tokenText(13502), "##\u{2028}")
        XCTAssertEqual(tokenizer.tokenText(21127), "##😎")
        try assertParity(tokenizer, golden: "bert-base-chinese.json")
    }

    func testTruncationKeepsSeparatorLast() throws {
        let folder = try TestPaths.require(TestPaths.miniLM)
        let tokenizer = try XCTUnwrap(try TokenizerLoader.load(path: folder.path) as? WordPieceTokenizer)
        let golden = try GoldenIds("minilm.json")
        let corpus = try ParityCorpus.shared.get()
        let truncated = try XCTUnwrap(golden.raw["truncated16"] as? [String: [Int]])
        XCTAssertFalse(truncated.isEmpty)
        for (key, text) in corpus.entries {
            guard let expected = truncated[key] else { continue }
            XCTAssertEqual(tokenizer.encode(text, maxLength: 16), expected, key)
        }
        XCTAssertEqual(tokenizer.modelMaxLength, 512)
    }

    func testDecodeMatchesReference() throws {
        let folder = try TestPaths.require(TestPaths.miniLM)
        let tokenizer = try TokenizerLoader.load(path: folder.path)
        let decoded = try XCTUnwrap(try GoldenIds("minilm.json").raw["decoded"] as? [String: String])
        for (key, text) in try ParityCorpus.shared.get().entries {
            guard let expected = decoded[key] else { continue }
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text), skipSpecial: true), expected, key)
        }
    }

    /// An added token marked `normalized` is matched in the lower-cased text. Expected ids from
    /// `tokenizers` 0.23.3 on this tokenizer.json with [MASK] so marked.
    func testNormalizedAddedTokenMatchesAnyCase() throws {
        let folder = try TestPaths.require(TestPaths.miniLM)
        let source = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("tokenizer.json")))
        var object = try XCTUnwrap(source as? [String: Any])
        object["added_tokens"] = (object["added_tokens"] as! [[String: Any]]).map { token in
            var token = token
            if token["content"] as? String == "[MASK]" { token["normalized"] = true }
            return token
        }
        let temporary = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let url = temporary.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let tokenizer = try TokenizerLoader.load(path: url.path)
        for text in ["a [MASK] b", "a [mask] b", "a [Mask]b"] {
            XCTAssertEqual(tokenizer.encode(text), [101, 1037, 103, 1038, 102], text)
        }
        XCTAssertEqual(tokenizer.encode("a [MASK] b", allowSpecial: false, addSpecialTokens: true), [101, 1037, 1031, 7308, 1033, 1038, 102])
    }

    func testLongWordBecomesUnknown() throws {
        let vocab = try TestPaths.require(TestPaths.sharedData.appendingPathComponent("bert-base-chinese-vocab.txt"))
        let tokenizer = try TokenizerLoader.load(path: vocab.path)
        let unknown = try XCTUnwrap(tokenizer.tokenId("[UNK]"))
        // 100 characters still go through WordPiece; 101 are one [UNK].
        XCTAssertNotEqual(tokenizer.encode(String(repeating: "a", count: 100), allowSpecial: true, addSpecialTokens: false), [unknown])
        XCTAssertEqual(tokenizer.encode(String(repeating: "a", count: 101), allowSpecial: true, addSpecialTokens: false), [unknown])
    }
}

/// Checks every corpus entry against a golden file; reports each mismatch with the tokens.
func assertParity(_ tokenizer: any Tokenizer, golden name: String, overrides: GoldenIds? = nil,
                  addSpecialTokens: Bool? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
    let golden = try GoldenIds(name)
    let corpus = try ParityCorpus.shared.get()
    let withTemplate = addSpecialTokens ?? (tokenizer is WordPieceTokenizer)
    var failures = 0
    var checked = 0
    for (key, text) in corpus.entries {
        for allowSpecial in [true, false] {
            let table = allowSpecial ? golden.ids : golden.plainText
            let overrideTable = allowSpecial ? overrides?.ids : overrides?.plainText
            guard let expected = overrideTable?[key] ?? table[key] else { continue }
            let actual = tokenizer.encode(text, allowSpecial: allowSpecial, addSpecialTokens: withTemplate)
            checked += 1
            if let reference = GoldenIds.mismatch(actual, expected) {
                failures += 1
                if failures <= 10 {
                    let tokens = actual.prefix(40).map { tokenizer.tokenText($0) ?? "?" }
                    XCTFail("\(name) \(key) allowSpecial=\(allowSpecial): got \(actual.prefix(40)) \(tokens), reference \(reference.prefix(400))",
                            file: file, line: line)
                }
            }
        }
    }
    XCTAssertEqual(failures, 0, "\(name): \(failures) of \(checked) encodings differ", file: file, line: line)
    XCTAssertGreaterThanOrEqual(checked, 2000, file: file, line: line)
}
