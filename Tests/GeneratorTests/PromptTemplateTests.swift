import Generator
import XCTest

final class PromptTemplateTests: XCTestCase {
    let record = ["Question": "头痛三天，伴有发热，可能是什么病？", "Complex_CoT": "先考虑感染。", "Response": "可能是上呼吸道感染。"]

    func testTutorialTemplate() throws {
        XCTAssertEqual(try PromptTemplate.tutorial.render(record), "诊断问题：头痛三天，伴有发热，可能是什么病？\n详细分析：\n###答案：\n")
        XCTAssertEqual(PromptTemplate.tutorial.fields, ["Question"])
    }

    func testCustomTemplateWithBracesAndMissingField() throws {
        let template = try PromptTemplate(name: "Q: {Question} {{literal}} A: {Response}")
        XCTAssertEqual(try template.render(record), "Q: 头痛三天，伴有发热，可能是什么病？ {literal} A: 可能是上呼吸道感染。")
        XCTAssertEqual(template.fields, ["Question", "Response"])
        let missing = try PromptTemplate(name: "{Symptom}")
        XCTAssertThrowsError(try missing.render(record)) { error in
            XCTAssertTrue("\(error)".contains("Symptom"), "\(error)")
        }
        XCTAssertThrowsError(try PromptTemplate(name: "no-such-template"))
        XCTAssertThrowsError(try PromptTemplate(name: "{unclosed").render(record))
    }

    func testChatFormats() throws {
        XCTAssertEqual(try PromptTemplate.chatML(system: nil).render(record),
                       "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n头痛三天，伴有发热，可能是什么病？<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(try PromptTemplate.deepSeekR1(system: nil).render(record),
                       "<｜begin▁of▁sentence｜><｜User｜>头痛三天，伴有发热，可能是什么病？<｜Assistant｜><think>\n")
    }

    func testAnswerExtraction() {
        let text = "<think>\n先排除脑膜炎。\n</think>\n分析如下……\n###答案：\n可能是流感。\n"
        let extracted = ExtractedAnswer(from: text)
        XCTAssertEqual(extracted.reasoning, "先排除脑膜炎。")
        XCTAssertEqual(extracted.answer, "可能是流感。")
        XCTAssertTrue(extracted.markerFound)
        let r1 = ExtractedAnswer(from: "想一想。</think>\n\n答案是A。", marker: nil, startsInReasoning: true)
        XCTAssertEqual(r1.reasoning, "想一想。")
        XCTAssertEqual(r1.answer, "答案是A。")
        let cut = ExtractedAnswer(from: "<think>还在想", marker: nil)
        XCTAssertEqual(cut.reasoning, "还在想")
        XCTAssertEqual(cut.answer, "")
        let plain = ExtractedAnswer(from: "直接回答。")
        XCTAssertNil(plain.reasoning)
        XCTAssertFalse(plain.markerFound)
        XCTAssertEqual(plain.answer, "直接回答。")
    }
}
