import XCTest
@testable import Evaluator
import TestSupport

final class GreedyMatchingTests: XCTestCase {
    struct Golden: Decodable {
        struct Pair: Decodable {
            var candidate: [[Float]]
            var candidate_idf: [Double]
            var reference: [[Float]]
            var reference_idf: [Double]
        }
        struct Batch: Decodable { var pairs: [Pair]; var P: [Double]; var R: [Double]; var F: [Double] }
        var dim: Int
        var batches: [Batch]
    }

    /// bert_score's greedy_cos_idf on random embeddings of one padded batch: padded positions
    /// take part in the maxima as zeros.
    func testMatchesBertScoreGreedyCosIdfIncludingPaddingZeros() throws {
        let golden = try GoldenText.load(Golden.self, "bertscore_matching.json")
        for batch in golden.batches {
            let longestCandidate = batch.pairs.map(\.candidate.count).max()!
            let longestReference = batch.pairs.map(\.reference.count).max()!
            for (k, pair) in batch.pairs.enumerated() {
                var candidate = pair.candidate.flatMap { $0 }, reference = pair.reference.flatMap { $0 }
                GreedyMatching.normalizeRows(&candidate, rows: pair.candidate.count, dimension: golden.dim)
                GreedyMatching.normalizeRows(&reference, rows: pair.reference.count, dimension: golden.dim)
                var scratch = [Float](repeating: 0, count: candidate.count * reference.count)
                // bert_score counts a sentence of two tokens ([CLS] [SEP]) as empty.
                let s = candidate.withUnsafeBufferPointer { c in
                    reference.withUnsafeBufferPointer { r in
                        GreedyMatching.score(
                            candidate: .init(vectors: c.baseAddress!, weights: pair.candidate_idf,
                                             padded: pair.candidate.count < longestCandidate, empty: pair.candidate.count == 2),
                            reference: .init(vectors: r.baseAddress!, weights: pair.reference_idf,
                                             padded: pair.reference.count < longestReference, empty: pair.reference.count == 2),
                            dimension: golden.dim, scratch: &scratch)
                    }
                }
                XCTAssertEqual(s.precision, batch.P[k], accuracy: 1e-6)
                XCTAssertEqual(s.recall, batch.R[k], accuracy: 1e-6)
                XCTAssertEqual(s.f1, batch.F[k], accuracy: 1e-6)
            }
        }
    }

    func testIDFWeightsFollowBertScoreFormula() {
        // Three references; token 7 in two of them, token 9 in one, [CLS]=1 in all.
        let idf = IDFWeights.fromReferences([[1, 7, 7, 2], [1, 7, 9, 2], [1, 2]])
        XCTAssertEqual(idf.weight(1), 0, accuracy: 1e-15)
        XCTAssertEqual(idf.weight(7), log(4.0 / 3.0), accuracy: 1e-15)
        XCTAssertEqual(idf.weight(9), log(4.0 / 2.0), accuracy: 1e-15)
        XCTAssertEqual(idf.weight(42), log(4.0), accuracy: 1e-15)
        let uniform = IDFWeights.uniform(zeroWeightIDs: [101, 102])
        XCTAssertEqual(uniform.weight(101), 0)
        XCTAssertEqual(uniform.weight(5), 1)
    }

    func testDefaultLayersAndHash() {
        XCTAssertEqual(DefaultLayers.layer(forModel: "bert-base-chinese"), 8)
        XCTAssertEqual(DefaultLayers.layer(forModel: "roberta-large"), 17)
        XCTAssertEqual(DefaultLayers.layer(forModel: "/models/electra-base-generator"), 10)
        XCTAssertNil(DefaultLayers.layer(forModel: "all-MiniLM-L6-v2"))
        XCTAssertEqual(ScoreHash(model: "bert-base-chinese", layer: 12, idf: false, rescaled: false).description,
                       "bert-base-chinese_L12_no-idf_version=0.3.12(medtune)")
        XCTAssertEqual(ScoreHash(model: "m", layer: 3, idf: true, rescaled: true).description,
                       "m_L3_idf_version=0.3.12(medtune)-custom-rescaled")
    }

    func testRescaleBaselineFile() throws {
        let url = TestPaths.golden("Evaluator/bert-base-chinese.tsv")
        let baseline = try RescaleBaseline(path: url.path)
        XCTAssertEqual(baseline.rows.count, 13)
        XCTAssertEqual(try baseline.baseline(layer: 0).precision, 0.2786982, accuracy: 1e-12)
        XCTAssertThrowsError(try baseline.baseline(layer: 13))
        XCTAssertThrowsError(try RescaleBaseline(csv: "a,b\n1,2", path: "x.tsv"))
        let r = RescaleBaseline.rescale(PRF(precision: 0.9, recall: 0.8, f1: 0.85), by: PRF(precision: 0.8, recall: 0.8, f1: 0.5))
        XCTAssertEqual(r.precision, 0.5, accuracy: 1e-6)
        XCTAssertEqual(r.recall, 0, accuracy: 1e-6)
        XCTAssertEqual(r.f1, 0.7, accuracy: 1e-6)
    }
}
