import MedtuneCore
import TestSupport
import Transformer
import XCTest
@testable import Evaluator

/// Fixed token ids per sentence, standing in for a tokenizer.
struct TableTokenizer: SentenceTokenizer {
    var table: [String: [Int]]
    var zeroWeightIDs: Set<Int> = []
    func encode(_ sentence: String) -> [Int] { table[sentence] ?? [] }
}

final class Qwen2EncoderTests: XCTestCase {
    func testStatesAreTheBaseModelsLayerOutputPerSequence() throws {
        var shape = TinyQwen.Shape()
        shape.targets = ["q_proj", "v_proj"]
        var plainShape = shape
        plainShape.targets = []
        let adapted: Qwen2Model<Float> = TinyQwen.make(shape, seed: 5)
        let plain: Qwen2Model<Float> = TinyQwen.make(plainShape, seed: 5)
        let encoder = Qwen2Encoder(model: adapted, maxSequenceLength: 32)
        let ids = [[1, 4, 9, 2], [7], [], [3, 3, 10]]
        for layer in 0...2 {
            let states = try encoder.hiddenStates(ids: ids, layer: layer)
            XCTAssertEqual(states.offsets, [0, 4, 5, 5, 8])
            for (s, sequence) in ids.enumerated() where !sequence.isEmpty {
                let alone = plain.hiddenStates(tokens: sequence.map { Int32($0) }, pass: ForwardPass(batch: 1, length: sequence.count),
                                               stopAfterLayer: layer)
                XCTAssertEqual(Array(UnsafeBufferPointer(start: states.rows(s), count: sequence.count * encoder.hiddenSize)),
                               alone.array, "layer \(layer) sequence \(s)")
            }
        }
        XCTAssertThrowsError(try encoder.hiddenStates(ids: ids, layer: 3))
        XCTAssertThrowsError(try encoder.hiddenStates(ids: [[11]], layer: 1))
    }

    func testBERTScoreOverQwenStates() throws {
        let model: Qwen2Model<Float> = TinyQwen.make(seed: 8)
        let tokenizer = TableTokenizer(table: ["a": [0, 1, 4, 9], "b": [0, 7, 2], "c": [0, 1, 4, 9, 3]], zeroWeightIDs: [0])
        let scorer = try BERTScorer(tokenizer: tokenizer, encoder: Qwen2Encoder(model: model, maxSequenceLength: 32),
                                    modelName: "qwen2:tiny", options: BERTScoreOptions(layer: 2))
        let result = try scorer.score(candidates: ["a", "a", "b"], references: ["a", "c", "a"])
        XCTAssertEqual(result.scores[0].f1, 1, accuracy: 1e-6)
        // "a" is a prefix of "c" and causal states of a prefix do not see what follows: every
        // candidate token finds itself in the reference.
        XCTAssertEqual(result.scores[1].precision, 1, accuracy: 1e-6)
        XCTAssertLessThan(result.scores[1].recall, 1)
        XCTAssertLessThan(result.scores[2].f1, 1)
        XCTAssertEqual(result.hash.description, "qwen2:tiny_L2_no-idf_version=0.3.12(medtune)")
        XCTAssertThrowsError(try BERTScorer(tokenizer: tokenizer, encoder: Qwen2Encoder(model: model, maxSequenceLength: 32),
                                            modelName: "qwen2:tiny", options: BERTScoreOptions(layer: 3)))
    }
}

/// The real Qwen2.5-Coder-0.5B GGUF as `--bert`.
final class Qwen2ScoringModelTests: XCTestCase {
    func testGGUFModelScoresWithItsOwnSettingsString() throws {
        let path = try TestPaths.require(TestPaths.qwenGGUF).path
        let model = try ScoringModel.open(path)
        XCTAssertEqual(model.name, "qwen2:qwen2.5-coder-0.5b-instruct-q4_k_m")
        XCTAssertNil(model.defaultLayer)
        XCTAssertEqual(model.encoder.layerCount, 24)
        let endOfText = 151643
        XCTAssertEqual(model.tokenizer.encode("  "), [endOfText])
        XCTAssertEqual(model.tokenizer.encode(" 患者 ").first, endOfText)
        let scorer = try BERTScorer(tokenizer: model.tokenizer, encoder: model.encoder, modelName: model.name,
                                    options: BERTScoreOptions(layer: 2))
        let result = try scorer.score(candidates: ["患者应每天服用阿司匹林。", "患者应每天服用阿司匹林。", ""],
                                      references: ["患者应每天服用阿司匹林。", "The weather is nice today.", "x"])
        XCTAssertEqual(result.scores[0].f1, 1, accuracy: 1e-5)
        XCTAssertLessThan(result.scores[1].f1, result.scores[0].f1)
        XCTAssertEqual(result.scores[2], PRF(precision: 0, recall: 0, f1: 0))
        XCTAssertEqual(result.hash.description, "qwen2:qwen2.5-coder-0.5b-instruct-q4_k_m_L2_no-idf_version=0.3.12(medtune)")
    }
}
