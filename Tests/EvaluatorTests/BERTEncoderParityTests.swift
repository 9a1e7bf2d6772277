import Foundation
import TestSupport
import XCTest
@testable import Evaluator

/// The encoder and scorer alone against bert_score, fed the token ids bert_score used
/// (bertscore_tokens.json), so that a difference here is not a tokenizer's.
final class BERTEncoderParityTests: XCTestCase {
    struct Golden: Decodable {
        struct Run: Decodable {
            var set: String
            var model: String
            var num_layers: Int
            var idf: Bool
            var baseline: String?
            var P: [Double]
            var R: [Double]
            var F: [Double]
        }
        var pairs: [GoldenPair]
        var runs: [Run]
    }

    func testMiniLMWithBertScoresTokenIDs() throws {
        let golden = try GoldenText.load(Golden.self, "bertscore.json")
        let data = try Data(contentsOf: TestPaths.require(TestPaths.golden("Evaluator/bertscore_tokens.json")))
        let tokens = try XCTUnwrap((JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])?["all-MiniLM-L6-v2"]?["pairs"] as? [[[Int]]])
        var table: [String: [Int]] = [:]
        var candidates: [String] = [], references: [String] = []
        for (pair, ids) in zip(golden.pairs, tokens) {
            let c = try GoldenText.resolve(pair.candidate), r = try GoldenText.resolve(pair.reference!)
            table[c] = ids[0]
            table[r] = ids[1]
            candidates.append(c)
            references.append(r)
        }
        let model = try BERTModel.load(folder: try TestPaths.require(TestPaths.miniLM).path)
        let tokenizer = TableTokenizer(table: table, zeroWeightIDs: [101, 102])
        for run in golden.runs where run.model == "all-MiniLM-L6-v2" && run.set == "main" && run.baseline == nil {
            let scorer = try BERTScorer(tokenizer: tokenizer, encoder: model, modelName: "all-MiniLM-L6-v2",
                                        options: BERTScoreOptions(layer: run.num_layers, idf: run.idf))
            let result = try scorer.score(candidates: candidates, references: references)
            for (i, s) in result.scores.enumerated() {
                XCTAssertEqual(s.precision, run.P[i], accuracy: 1e-5, "L\(run.num_layers) idf=\(run.idf) \(golden.pairs[i].id)")
                XCTAssertEqual(s.recall, run.R[i], accuracy: 1e-5, "L\(run.num_layers) idf=\(run.idf) \(golden.pairs[i].id)")
                XCTAssertEqual(s.f1, run.F[i], accuracy: 1e-5, "L\(run.num_layers) idf=\(run.idf) \(golden.pairs[i].id)")
            }
        }
    }
}
