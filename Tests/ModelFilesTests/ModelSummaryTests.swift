import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

final class ModelSummaryTests: XCTestCase {
    func testQwenGGUF() throws {
        let golden = try Golden.load("gguf_qwen.json", as: GGUFHeaderGolden.self)
        let path = try TestPaths.require(TestPaths.qwenGGUF).path
        let summary = try ModelSummary.inspect(path, tokens: 16)
        XCTAssertEqual(summary.format, "GGUF v3")
        XCTAssertEqual(summary.architecture, "qwen2")
        XCTAssertTrue(summary.supported)
        XCTAssertEqual(summary.tensorCount, golden.tensor_count)
        XCTAssertEqual(summary.parameters, golden.tensors.reduce(0) { $0 + $1.dimensions.reduce(1, *) })
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: summary.types.map { ($0.type, $0.tensors) }), golden.tensor_types)
        XCTAssertEqual(summary.contextLength, 32768)
        XCTAssertEqual(summary.vocabSize, 151_936)
        XCTAssertEqual(summary.specialTokens["bos"], .init(id: 151_643, text: "<|endoftext|>"))
        XCTAssertEqual(summary.specialTokens["eos"], .init(id: 151_645, text: "<|im_end|>"))
        XCTAssertEqual(summary.specialTokens["pad"], .init(id: 151_643, text: "<|endoftext|>"))
        guard case .string(let template) = golden.scalars["tokenizer.chat_template"]?.value else {
            return XCTFail("golden chat template")
        }
        XCTAssertEqual(summary.chatTemplateBytes, template.utf8.count)
        // Tensors tile the data section up to alignment padding.
        let dataBytes = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) - golden.data_offset
        XCTAssertLessThanOrEqual(summary.mappedBytes, dataBytes)
        XCTAssertGreaterThan(summary.mappedBytes, dataBytes - 32 * golden.tensor_count)
        XCTAssertGreaterThan(summary.workingSetBytes, 0)
        XCTAssertEqual(summary.incompleteTensors, 0)
        XCTAssertTrue(summary.lines.contains { $0.hasPrefix("memory:") })
    }

    func testPartialGGUFCountsIncompleteTensors() throws {
        let summary = try ModelSummary.inspect(TestPaths.require(TestPaths.deepSeekR1Header).path)
        XCTAssertEqual(summary.tensorCount, 339)
        XCTAssertEqual(summary.incompleteTensors, 339)
        XCTAssertEqual(summary.contextLength, 131_072)
        XCTAssertTrue(summary.lines.contains { $0.contains("339 of 339 tensors lie past the end") })
    }

    func testHuggingFaceFolders() throws {
        let minilm = try ModelSummary.inspect(TestPaths.require(TestPaths.miniLM).path)
        XCTAssertEqual(minilm.format, "safetensors")
        XCTAssertEqual(minilm.architecture, "bert (BertModel)")
        XCTAssertFalse(minilm.supported)
        XCTAssertEqual(minilm.specialTokens["pad"], .init(id: 0, text: "[PAD]"))
        XCTAssertEqual(minilm.vocabSize, 30522)
        XCTAssertNil(minilm.chatTemplateBytes)

        let tiny = try ModelSummary.inspect(TestPaths.golden("ModelFiles/tiny-qwen2").path)
        XCTAssertTrue(tiny.supported)
        XCTAssertEqual(tiny.parameters, 86_592)  // total_parameters in the reference's index
        XCTAssertEqual(tiny.mappedBytes, 173_184)  // total_size in the reference's index
        XCTAssertEqual(tiny.types.map(\.type), ["BF16"])
    }
}
