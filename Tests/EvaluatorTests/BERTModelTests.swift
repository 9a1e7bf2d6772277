import Foundation
import XCTest
@testable import Evaluator

/// Weights held in memory, as a test gives them.
final class DictionaryWeights: BERTWeightSource {
    var tensors: [String: (shape: [Int], values: [Float])]
    init(_ tensors: [String: (shape: [Int], values: [Float])]) { self.tensors = tensors }
    var tensorNames: [String] { Array(tensors.keys) }
    func floats(_ name: String) throws -> (shape: [Int], values: [Float]) { tensors[name]! }
}

final class BERTModelTests: XCTestCase {
    struct Micro: Decodable {
        struct Weight: Decodable { var shape: [Int]; var values: [Float] }
        struct Config: Decodable {
            var vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, max_position_embeddings, type_vocab_size: Int
        }
        var config: Config
        var weights: [String: Weight]
        var sequences: [[Int]]
        var hidden_states: [[[[Float]]]]
    }

    func microModel(prefix: String = "", renameNorms: Bool = false) throws -> (BERTModel, Micro) {
        let golden = try GoldenText.load(Micro.self, "bert_micro.json")
        let c = golden.config
        let config = BERTConfig(vocabularySize: c.vocab_size, hiddenSize: c.hidden_size, layerCount: c.num_hidden_layers,
                                headCount: c.num_attention_heads, intermediateSize: c.intermediate_size,
                                maxPositions: c.max_position_embeddings, typeVocabularySize: c.type_vocab_size)
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for (name, w) in golden.weights {
            var renamed = name
            if renameNorms {
                renamed = renamed.replacingOccurrences(of: "LayerNorm.weight", with: "LayerNorm.gamma")
                    .replacingOccurrences(of: "LayerNorm.bias", with: "LayerNorm.beta")
            }
            tensors[prefix + renamed] = (w.shape, w.values)
        }
        return (try BERTModel(config: config, weights: DictionaryWeights(tensors)), golden)
    }

    /// Hidden states of every layer match Hugging Face's BertModel run on a padded, masked batch.
    func testHiddenStatesMatchTransformersForEveryLayer() throws {
        let (model, golden) = try microModel()
        for layer in 0...2 {
            let states = try model.hiddenStates(ids: golden.sequences, layer: layer)
            for (s, sequence) in golden.sequences.enumerated() {
                XCTAssertEqual(states.length(s), sequence.count)
                let rows = states.rows(s)
                for (t, expected) in golden.hidden_states[s][layer].enumerated() {
                    for (j, value) in expected.enumerated() {
                        XCTAssertEqual(rows[t * model.hiddenSize + j], value, accuracy: 2e-5, "layer \(layer) seq \(s) token \(t)")
                    }
                }
            }
        }
    }

    /// Batching into passes of a few tokens changes nothing beyond rounding (BLAS blocks
    /// differently for different row counts).
    func testSmallPassesGiveTheSameStates() throws {
        let (model, golden) = try microModel()
        let whole = try model.hiddenStates(ids: golden.sequences, layer: 2)
        model.tokensPerPass = 4
        let split = try model.hiddenStates(ids: golden.sequences, layer: 2)
        XCTAssertEqual(whole.offsets, split.offsets)
        for (a, b) in zip(whole.values.array, split.values.array) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testPrefixedAndGammaBetaNamesLoad() throws {
        let (plain, golden) = try microModel()
        let (renamed, _) = try microModel(prefix: "bert.", renameNorms: true)
        XCTAssertEqual(try plain.hiddenStates(ids: golden.sequences, layer: 2).values.array,
                       try renamed.hiddenStates(ids: golden.sequences, layer: 2).values.array)
    }

    func testBadInputsAreErrors() throws {
        let (model, _) = try microModel()
        XCTAssertThrowsError(try model.hiddenStates(ids: [[2, 40]], layer: 1))
        XCTAssertThrowsError(try model.hiddenStates(ids: [Array(repeating: 1, count: 17)], layer: 1))
        XCTAssertThrowsError(try model.hiddenStates(ids: [[2, 3]], layer: 3))
        let missing = DictionaryWeights(["embeddings.word_embeddings.weight": ([40, 12], Array(repeating: 0, count: 480))])
        XCTAssertThrowsError(try BERTModel(config: model.config, weights: missing)) { error in
            XCTAssertTrue("\(error)".contains("position_embeddings"), "\(error)")
        }
    }
}

final class EncoderKernelTests: XCTestCase {
    /// The vector erf of GELU stays within a few ulp near 0 and 5·10⁻⁷ near ±1 (the attention's
    /// softmax is MedtuneCore's `Softmax`, tested there).
    func testVectorErfAgreesWithFoundation() {
        var x: Float = -87.3
        while x <= 10 {
            let lanes = SIMD16<Float>((0..<16).map { x + Float($0) * 0.0007 })
            let f = EncoderKernels.erf(lanes * 0.1)
            for lane in 0..<16 {
                XCTAssertEqual(f[lane], Foundation.erf(lanes[lane] * 0.1), accuracy: max(4 * abs(Foundation.erf(lanes[lane] * 0.1)).ulp, 5e-7), "erf(\(lanes[lane] * 0.1))")
            }
            x += 0.0311
        }
    }
}
