import Generator
import TestSupport
import Tokenizers
import Transformer
import XCTest

/// Prompts are tokenized the way HF frames them: a chat template writes its own BOS and turn
/// markers; a plain template gets the tokenizer's BOS and keeps special-token text as text.
final class PromptEncodingTests: XCTestCase {
    func testDeepSeekPromptsCarryExactlyOneBOS() throws {
        let tokenizer = try TokenizerLoader.loadBPE(path: try TestPaths.require(TestPaths.deepSeekR1Header).path)
        let bos = try XCTUnwrap(tokenizer.bosTokenId)
        let generator = TextGenerator(model: TinyQwen.make(as: Float.self), tokenizer: tokenizer, endOfSequence: [], contextLength: 4096)
        let record = ["Question": "发热三天，咳嗽，可能是什么病？"]

        let chat = try PromptTemplate.deepSeekR1(system: nil)
        let chatIDs = try generator.encode(try chat.render(record), template: chat, maxNewTokens: 16)
        XCTAssertEqual(chatIDs.first, Int32(bos))
        XCTAssertEqual(chatIDs.filter { $0 == Int32(bos) }.count, 1)
        XCTAssertEqual(chatIDs.suffix(3).map { tokenizer.tokenText(Int($0)) ?? "" }.joined().contains("<think>"), true)
        XCTAssertNotNil(chatIDs.firstIndex(of: Int32(try XCTUnwrap(tokenizer.tokenId("<｜User｜>")))))

        let plain = PromptTemplate.tutorial
        let plainIDs = try generator.encode(try plain.render(["Question": "<｜User｜>是什么？"]), template: plain, maxNewTokens: 16)
        XCTAssertEqual(plainIDs.first, Int32(bos), "the tokenizer's BOS")
        XCTAssertNil(plainIDs.firstIndex(of: Int32(try XCTUnwrap(tokenizer.tokenId("<｜User｜>")))), "special-token text in a record stays text")
    }

    func testEmptyAndOverlongPromptsAreRefused() throws {
        let tokenizer = try TokenizerLoader.loadBPE(path: try TestPaths.require(TestPaths.qwenGGUF).path)
        let generator = TextGenerator(model: TinyQwen.make(as: Float.self), tokenizer: tokenizer, endOfSequence: [], contextLength: 32)
        XCTAssertThrowsError(try generator.encode("", template: nil, maxNewTokens: 8))
        XCTAssertThrowsError(try generator.encode(String(repeating: "长文本", count: 20), template: nil, maxNewTokens: 8)) { error in
            XCTAssertTrue("\(error)".contains("context of 32"), "\(error)")
        }
    }
}
