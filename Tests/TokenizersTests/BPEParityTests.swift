import Foundation
import ModelFiles
import TestSupport
@testable import Tokenizers
import XCTest

/// Byte-level BPE against ids from the reference `tokenizers` library for every corpus entry,
/// special-token matching on and off (see scripts/golden/tokenizers_golden.py).
final class BPEParityTests: XCTestCase {
    static let qwen = Result { try TokenizerLoader.loadBPE(path: TestPaths.require(TestPaths.qwenGGUF).path) }
    static let deepSeek = Result { try TokenizerLoader.loadBPE(path: TestPaths.require(TestPaths.deepSeekR1Header).path) }

    func testQwenGGUFMatchesReference() throws {
        let tokenizer = try Self.qwen.get()
        XCTAssertEqual(tokenizer.vocabularySize, 151_936)
        XCTAssertEqual(tokenizer.specialTokenIds, SpecialTokenIds(bos: 151_643, eos: 151_645, pad: 151_643))
        XCTAssertEqual(tokenizer.normalizer, .none)
        XCTAssertTrue(tokenizer.chatTemplate?.contains("<|im_start|>") ?? false)
        try assertParity(tokenizer, golden: "qwen2.5-gguf.json")
    }

    func testDeepSeekGGUFMatchesReference() throws {
        let tokenizer = try Self.deepSeek.get()
        XCTAssertEqual(tokenizer.vocabularySize, 152_064)
        XCTAssertEqual(tokenizer.tokenId("<｜Assistant｜>"), 151_645)
        XCTAssertEqual(tokenizer.tokenId("<think>"), 151_648)
        XCTAssertTrue(tokenizer.isSpecial(151_645))
        XCTAssertFalse(tokenizer.isSpecial(151_648))
        try assertParity(tokenizer, golden: "deepseek-r1-qwen-gguf.json")
    }

    func testDeepSeekAddsBosWithTemplate() throws {
        let tokenizer = try Self.deepSeek.get()
        let bos = try XCTUnwrap(tokenizer.bosTokenId)
        XCTAssertEqual(tokenizer.tokenText(bos), "<｜begin▁of▁sentence｜>")
        let plain = tokenizer.encode("你好", allowSpecial: true, addSpecialTokens: false)
        XCTAssertEqual(tokenizer.encode("你好"), [bos] + plain)
        // Qwen2.5 adds nothing.
        let qwen = try Self.qwen.get()
        XCTAssertEqual(qwen.encode("你好"), qwen.encode("你好", allowSpecial: true, addSpecialTokens: false))
    }

    /// The official Qwen2 tokenizer.json layout: the GGUF vocabulary written out as
    /// tokenizer.json with an NFC normalizer, loaded back through the tokenizer.json reader.
    func testQwenTokenizerJSONMatchesReference() throws {
        let folder = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = try BPETokenizer.configuration(gguf: GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path))
        configuration.normalizer = .nfc
        try BPETokenizer(configuration).huggingFaceJSON().write(to: folder.appendingPathComponent("tokenizer.json"))
        try Data(#"{"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "add_bos_token": false}"#.utf8)
            .write(to: folder.appendingPathComponent("tokenizer_config.json"))

        let tokenizer = try TokenizerLoader.loadBPE(path: folder.path)
        XCTAssertEqual(tokenizer.normalizer, .nfc)
        XCTAssertEqual(tokenizer.specialTokenIds, SpecialTokenIds(eos: 151_645, pad: 151_643))
        try assertParity(tokenizer, golden: "qwen2.5-gguf.json", overrides: try GoldenIds("qwen2.5-tokenizer-json.json"))
        for (key, text) in try ParityCorpus.shared.get().entries {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text)), text.precomposedStringWithCanonicalMapping, key)
        }
    }

    func testDecodeRestoresEveryCorpusText() throws {
        for tokenizer in [try Self.qwen.get(), try Self.deepSeek.get()] {
            for (key, text) in try ParityCorpus.shared.get().entries {
                for allowSpecial in [true, false] {
                    let ids = tokenizer.encode(text, allowSpecial: allowSpecial, addSpecialTokens: false)
                    XCTAssertEqual(tokenizer.decode(ids), text, key)
                }
            }
        }
    }

    func testStreamingPiecesRestoreEveryCorpusText() throws {
        let tokenizer = try Self.qwen.get()
        for (key, text) in try ParityCorpus.shared.get().entries {
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var streamed = ""
            for id in tokenizer.encode(text, allowSpecial: true, addSpecialTokens: false) { streamed += decoder.append(id) }
            streamed += decoder.finish()
            // A piece cut inside a character would have become U+FFFD and broken the equality.
            XCTAssertEqual(streamed, text, key)
        }
    }

    func testSpecialTokensSkippedInDecode() throws {
        let tokenizer = try Self.qwen.get()
        let ids = tokenizer.encode("<|im_start|>user\nhi<|im_end|>")
        XCTAssertEqual(ids.first, 151_644)
        XCTAssertEqual(tokenizer.decode(ids, skipSpecial: true), "user\nhi")
        XCTAssertEqual(tokenizer.decode(ids, skipSpecial: false), "<|im_start|>user\nhi<|im_end|>")
    }
}

/// GGUF metadata that does not describe a supported tokenizer fails with the key named.
final class GGUFTokenizerErrorTests: XCTestCase {
    func testWrongModelAndPreTokenizerAreNamed() throws {
        let gguf = try GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path)
        var configuration = try BPETokenizer.configuration(gguf: gguf)
        XCTAssertEqual(configuration.tokens.count, 151_936)
        XCTAssertEqual(configuration.merges.count, 151_387)
        configuration.merges[5] = ("Ġ", "not-a-token")
        XCTAssertThrowsError(try BPETokenizer(configuration)) { error in
            XCTAssertTrue("\(error)".contains("merges[5]"), "\(error)")
            XCTAssertTrue("\(error)".contains("not-a-token"), "\(error)")
        }
        XCTAssertNil(BPETokenizer.preTokenizers["llama-bpe"])
    }
}

final class BPEConcurrencyTests: XCTestCase {
    /// Encoding state is lent per call: threads encoding at once get what one thread gets.
    func testConcurrentEncodingMatchesSequential() throws {
        let tokenizer = try BPEParityTests.qwen.get()
        let texts = try ParityCorpus.shared.get().entries.map(\.text)
        let expected = texts.map { tokenizer.encode($0) }
        let results = ResultSlots(count: texts.count)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for index in stride(from: worker, to: texts.count, by: 8) { results.set(index, tokenizer.encode(texts[index])) }
        }
        XCTAssertEqual(results.values, expected)
    }

    private final class ResultSlots: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [[Int]]
        init(count: Int) { values = Array(repeating: [], count: count) }
        func set(_ index: Int, _ value: [Int]) {
            lock.lock()
            values[index] = value
            lock.unlock()
        }
    }
}
