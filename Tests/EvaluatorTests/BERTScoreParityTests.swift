import Foundation
import TestSupport
import XCTest
@testable import Evaluator

/// medtune's BERTScore against the Python bert_score 0.3.13 (scripts/golden/bertscore_golden.py)
/// on the real all-MiniLM-L6-v2 and on a small random BERT over the real bert-base-chinese
/// vocabulary: every P, R and F1 within 1e-5, with and without idf, at two layers, rescaled, and
/// with several references per candidate.
final class BERTScoreParityTests: XCTestCase {
    struct Golden: Decodable {
        struct Run: Decodable {
            var set: String
            var model: String
            var num_layers: Int
            var idf: Bool
            var baseline: String?
            var hash: String
            var P: [Double]
            var R: [Double]
            var F: [Double]
        }
        var pairs: [GoldenPair]
        var multi_reference_pairs: [GoldenPair]
        var runs: [Run]
    }

    static let golden = Result { try GoldenText.load(Golden.self, "bertscore.json") }

    func texts() throws -> (candidates: [String], references: [[String]], multiCandidates: [String], multiReferences: [[String]]) {
        let golden = try Self.golden.get()
        return (try golden.pairs.map { try GoldenText.resolve($0.candidate) },
                try golden.pairs.map { [try GoldenText.resolve($0.reference!)] },
                try golden.multi_reference_pairs.map { try GoldenText.resolve($0.candidate) },
                try golden.multi_reference_pairs.map { try $0.references!.map(GoldenText.resolve) })
    }

    /// The tiny model's folder with the shared bert-base-chinese vocabulary linked in.
    func tinyChineseFolder() throws -> URL {
        let folder = try TestPaths.temporaryDirectory("tiny-bert-chinese")
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let source = TestPaths.golden("Evaluator/tiny-bert-chinese")
        for name in ["config.json", "model.safetensors", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let vocabulary = try TestPaths.require(TestPaths.sharedData.appendingPathComponent("bert-base-chinese-vocab.txt"))
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("vocab.txt"), withDestinationURL: vocabulary)
        return folder
    }

    func checkParity(model: ScoringModel, goldenName: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let golden = try Self.golden.get()
        let texts = try texts()
        let runs = golden.runs.filter { $0.model == goldenName }
        XCTAssertEqual(runs.count, 6, file: file, line: line)
        for run in runs {
            let baseline = try run.baseline.map { try RescaleBaseline(path: TestPaths.golden("Evaluator/\($0)").path) }
            let scorer = try BERTScorer(tokenizer: model.tokenizer, encoder: model.encoder, modelName: model.name,
                                        options: BERTScoreOptions(layer: run.num_layers, idf: run.idf, baseline: baseline))
            let result = run.set == "main"
                ? try scorer.score(candidates: texts.candidates, references: texts.references)
                : try scorer.score(candidates: texts.multiCandidates, references: texts.multiReferences)
            let label = "\(goldenName) \(run.set) L\(run.num_layers) idf=\(run.idf) baseline=\(run.baseline ?? "none")"
            XCTAssertEqual(result.hash.description, run.hash.replacingOccurrences(of: "(hug_trans=5.24.0)", with: "(medtune)"),
                           label, file: file, line: line)
            XCTAssertEqual(result.scores.count, run.F.count, label, file: file, line: line)
            let ids = run.set == "main" ? golden.pairs.map(\.id) : golden.multi_reference_pairs.map(\.id)
            for (i, score) in result.scores.enumerated() {
                XCTAssertEqual(score.precision, run.P[i], accuracy: 1e-5, "\(label) \(ids[i]) P", file: file, line: line)
                XCTAssertEqual(score.recall, run.R[i], accuracy: 1e-5, "\(label) \(ids[i]) R", file: file, line: line)
                XCTAssertEqual(score.f1, run.F[i], accuracy: 1e-5, "\(label) \(ids[i]) F", file: file, line: line)
            }
            if run.set == "main" {
                XCTAssertEqual(result.warnings.count, 2, "an empty candidate and an empty reference", file: file, line: line)
            }
        }
    }

    func testMiniLMMatchesBertScore() throws {
        let model = try ScoringModel.openBERT(try TestPaths.require(TestPaths.miniLM).path)
        XCTAssertEqual(model.name, "all-MiniLM-L6-v2")
        XCTAssertNil(model.defaultLayer)
        try checkParity(model: model, goldenName: "all-MiniLM-L6-v2")
    }

    func testTinyChineseBERTMatchesBertScore() throws {
        var model = try ScoringModel.openBERT(try tinyChineseFolder().path)
        model.name = "tiny-bert-chinese"
        try checkParity(model: model, goldenName: "tiny-bert-chinese")
    }

    /// The ids bert_score feeds each model, sentence by sentence, so that a tokenizer mismatch
    /// shows as such.
    func testTokenIDsMatchBertScore() throws {
        let data = try Data(contentsOf: TestPaths.require(TestPaths.golden("Evaluator/bertscore_tokens.json")))
        let tokens = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        let texts = try texts()
        for (name, folder) in [("all-MiniLM-L6-v2", try TestPaths.require(TestPaths.miniLM)), ("tiny-bert-chinese", try tinyChineseFolder())] {
            let tokenizer = try ScoringModel.openBERT(folder.path).tokenizer
            let pairs = try XCTUnwrap(tokens[name]?["pairs"] as? [[[Int]]])
            for (i, pair) in pairs.enumerated() {
                XCTAssertEqual(tokenizer.encode(texts.candidates[i]), pair[0], "\(name) pair \(i) candidate")
                XCTAssertEqual(tokenizer.encode(texts.references[i][0]), pair[1], "\(name) pair \(i) reference")
            }
        }
    }

    func testMiniLMHiddenStatesMatchTransformers() throws {
        struct Sentence: Decodable { var text: String; var ids: [Int]; var layers: [String: [[Float]]] }
        let sentences = try GoldenText.load([Sentence].self, "minilm_hidden.json")
        let model = try ScoringModel.openBERT(try TestPaths.require(TestPaths.miniLM).path)
        for sentence in sentences {
            XCTAssertEqual(model.tokenizer.encode(sentence.text), sentence.ids)
            for (layer, expected) in sentence.layers {
                let states = try model.encoder.hiddenStates(ids: [sentence.ids], layer: Int(layer)!)
                for (t, row) in expected.enumerated() {
                    for (j, value) in row.enumerated() {
                        XCTAssertEqual(states.rows(0)[t * 384 + j], value, accuracy: 1e-4, "\(sentence.text) layer \(layer) token \(t)")
                    }
                }
            }
        }
    }

    func testFolderErrors() throws {
        let folder = try TestPaths.temporaryDirectory("bad-bert")
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try ScoringModel.openBERT(folder.path)) { XCTAssertTrue("\($0)".contains("config.json is missing"), "\($0)") }
        let miniLM = try TestPaths.require(TestPaths.miniLM)
        try FileManager.default.copyItem(at: miniLM.appendingPathComponent("config.json"), to: folder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try ScoringModel.openBERT(folder.path)) { XCTAssertTrue("\($0)".contains("model.safetensors is missing"), "\($0)") }
        try Data("not a pickle".utf8).write(to: folder.appendingPathComponent("pytorch_model.bin"))
        XCTAssertThrowsError(try ScoringModel.openBERT(folder.path)) {
            XCTAssertTrue("\($0)".contains("has only pytorch_model.bin") && "\($0)".contains("needs model.safetensors"), "\($0)")
        }
        try Data("{\"model_type\": \"roberta\", \"vocab_size\": 5}".utf8).write(to: folder.appendingPathComponent("config.json"), options: .atomic)
        XCTAssertThrowsError(try ScoringModel.openBERT(folder.path)) { XCTAssertTrue("\($0)".contains("model_type: is \"roberta\""), "\($0)") }
    }

    func testLayerBeyondTheModelAndMismatchedCountsAreErrors() throws {
        let model = try ScoringModel.openBERT(try TestPaths.require(TestPaths.miniLM).path)
        XCTAssertThrowsError(try BERTScorer(tokenizer: model.tokenizer, encoder: model.encoder, modelName: model.name,
                                            options: BERTScoreOptions(layer: 7))) {
            XCTAssertTrue("\($0)".contains("has 6 layers"), "\($0)")
        }
        let scorer = try BERTScorer(tokenizer: model.tokenizer, encoder: model.encoder, modelName: model.name, options: BERTScoreOptions(layer: 6))
        XCTAssertThrowsError(try scorer.score(candidates: ["a", "b"], references: ["a"])) {
            XCTAssertTrue("\($0)".contains("2 candidates but 1 references"), "\($0)")
        }
    }
}
