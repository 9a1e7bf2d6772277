import Foundation
@testable import Tokenizers
import XCTest

final class StreamingDecoderTests: XCTestCase {
    func testHoldsBackUnfinishedCharacters() throws {
        let tokenizer = try TinyBPE.make()
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        // 中 is E4 B8 AD: token 261 is E4 B8, byte token 0xAD completes it.
        XCTAssertEqual(decoder.append(104), "h")
        XCTAssertEqual(decoder.append(261), "")
        XCTAssertEqual(decoder.append(0xAD), "中")
        XCTAssertEqual(decoder.append(0xE4), "")
        XCTAssertEqual(decoder.finish(), "\u{FFFD}")
        XCTAssertEqual(decoder.finish(), "")
    }

    func testInvalidBytesAreNotHeld() throws {
        let tokenizer = try TinyBPE.make()
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        // A continuation byte with no lead, and a lead that can never start a valid sequence.
        XCTAssertEqual(decoder.append(0x80), "\u{FFFD}")
        XCTAssertEqual(decoder.append(0xC0), "\u{FFFD}")
        // E0 80 is an overlong prefix: no continuation can rescue it.
        XCTAssertEqual(decoder.append(0xE0), "")
        XCTAssertEqual(decoder.append(0x80), "\u{FFFD}\u{FFFD}")
    }

    func testPiecesJoinToFullDecode() throws {
        let tokenizer = try TinyBPE.make()
        let text = "hello 中文 👨‍👩‍👧 é\u{301} <|end|> ok"
        let ids = tokenizer.encode(text, allowSpecial: true, addSpecialTokens: false)
        for skipSpecial in [false, true] {
            var decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecial: skipSpecial)
            var pieces = ids.map { decoder.append($0) }
            pieces.append(decoder.finish())
            XCTAssertEqual(pieces.joined(), tokenizer.decode(ids, skipSpecial: skipSpecial))
            XCTAssertFalse(pieces.joined().contains("\u{FFFD}"))
        }
    }

    func testIncompleteSuffixLength() {
        XCTAssertEqual(StreamingDecoder.incompleteSuffixLength([0x61]), 0)
        XCTAssertEqual(StreamingDecoder.incompleteSuffixLength([0x61, 0xE4]), 1)
        XCTAssertEqual(StreamingDecoder.incompleteSuffixLength([0xE4, 0xB8]), 2)
        XCTAssertEqual(StreamingDecoder.incompleteSuffixLength([0xE4, 0xB8, 0xAD]), 0)
        XCTAssertEqual(StreamingDecoder.incompleteSuffixLength([0xF0, 0x9F, 0x98]), 3)
        XCTAssertEqual(StreamingDecoder.incompleteSuffixLength([0xED, 0xA0]), 0)  // a surrogate
        XCTAssertEqual(StreamingDecoder.incompleteSuffixLength([0xF4, 0x90]), 0)  // above U+10FFFF
    }
}
