import Foundation
import TestSupport
import XCTest
@testable import Evaluator

final class ReportTests: XCTestCase {
    func metrics(_ f1: Double) -> PairMetrics {
        PairMetrics(bertScore: PRF(precision: f1, recall: f1, f1: f1), rougeL: OverlapScore(precision: 0.5, recall: 0.5, f: 0.5), chrF: 40)
    }

    func testComparisonReportWritesTheTutorialLineAndAllFormats() throws {
        let base = [0.61, 0.63, 0.60, 0.65, 0.62, 0.64, 0.59, 0.66, 0.61, 0.60]
        let questions = base.enumerated().map { i, f in
            QuestionComparison(record: i * 3, question: "问题 \(i)，含\"引号\"", reference: "参考答案\n第二行", baseAnswer: "base \(i)",
                               tunedAnswer: "lora \(i)", base: metrics(f), tuned: metrics(f + 0.02))
        }
        let report = ComparisonReport(hash: "bert-base-chinese_L12_no-idf_version=0.3.12(medtune)", questions: questions)
        XCTAssertEqual(report.tutorialLine, "BERTScore | 原始模型: 0.6210 | LoRA模型: 0.6410")
        XCTAssertEqual(report.bertScoreF1.improved, 10)
        XCTAssertEqual(report.bertScoreF1.test.pValue, 2.0 / 1024, accuracy: 1e-15)
        XCTAssertTrue(report.table().contains("10/10"))
        let csv = report.csv()
        XCTAssertTrue(csv.hasPrefix("record,question,reference,base_answer,lora_answer,"))
        XCTAssertTrue(csv.contains("\"问题 0，含\"\"引号\"\"\",\"参考答案\n第二行\""), csv)
        XCTAssertEqual(csv.components(separatedBy: "\r\n").count, 12)
        let json = try JSONSerialization.jsonObject(with: report.json()) as? [String: Any]
        XCTAssertEqual((json?["questions"] as? [Any])?.count, 10)
        XCTAssertTrue(report.markdown().contains("## Record 27"))
    }

    func testScoreReportMeansAndNaN() throws {
        let report = ScoreReport(hash: "h", lines: [1, 2], metrics: [metrics(0.8), metrics(0.6)])
        XCTAssertEqual(report.mean.bertScore.f1, 0.7, accuracy: 1e-15)
        XCTAssertTrue(report.text().contains("0.7000"))
        XCTAssertFalse(report.text(perPair: false).contains("0.8000"))
        let nan = ScoreReport(hash: "h", lines: [1], metrics: [PairMetrics(bertScore: PRF(precision: .nan, recall: 0.5, f1: 0), rougeL: .zero, chrF: 0)])
        XCTAssertTrue(String(decoding: try nan.json(), as: UTF8.self).contains("\"NaN\""))
    }

    func testHeldOutSelection() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let none = try HeldOutSelection(recordCount: 50, adapterDirectory: dir.path, limit: 10)
        XCTAssertEqual(none.records, Array(0..<10))
        XCTAssertEqual(none.warnings.count, 1)
        try Data("[40, 12, 7, 33]".utf8).write(to: dir.appendingPathComponent("heldout_ids.json"))
        let held = try HeldOutSelection(recordCount: 50, adapterDirectory: dir.path, limit: 3)
        XCTAssertEqual(held.records, [40, 12, 7])
        XCTAssertEqual(held.warnings, [])
        let asked = try HeldOutSelection(recordCount: 50, adapterDirectory: dir.path, limit: 3, requested: [12, 5, 6])
        XCTAssertEqual(asked.records, [12, 5, 6])
        XCTAssertTrue(asked.warnings.first?.contains("records 5, 6 were used to train") ?? false)
        XCTAssertThrowsError(try HeldOutSelection(recordCount: 20, adapterDirectory: dir.path, limit: 3)) { error in
            XCTAssertTrue("\(error)".contains("entry 0"), "\(error)")
        }
        XCTAssertThrowsError(try HeldOutSelection(recordCount: 50, adapterDirectory: dir.path, limit: 3, requested: [50]))
        // A checkpoint folder inside the run folder finds the run's file.
        let checkpoint = dir.appendingPathComponent("checkpoint-best")
        try FileManager.default.createDirectory(at: checkpoint, withIntermediateDirectories: true)
        XCTAssertEqual(try HeldOutSelection(recordCount: 50, adapterDirectory: checkpoint.path, limit: 2).records, [40, 12])
        // A record asked for twice would count twice in every mean.
        XCTAssertThrowsError(try HeldOutSelection(recordCount: 50, adapterDirectory: dir.path, limit: 3, requested: [12, 5, 12])) { error in
            XCTAssertEqual("\(error)", "--records: record 12 is given twice")
        }
        // A run that kept nothing out of training has nothing to score.
        try Data("[]".utf8).write(to: dir.appendingPathComponent("heldout_ids.json"))
        XCTAssertThrowsError(try HeldOutSelection(recordCount: 50, adapterDirectory: dir.path, limit: 3)) { error in
            XCTAssertTrue("\(error)".hasPrefix(dir.appendingPathComponent("heldout_ids.json").path + ": holds no record"), "\(error)")
        }
        XCTAssertEqual(try HeldOutSelection(recordCount: 50, adapterDirectory: dir.path, limit: 3, requested: [4]).records, [4])
    }

    func testPairFileReadsSingleAndSeveralReferencesAndReportsBadLines() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("pairs.jsonl")
        try Data("{\"candidate\": \"a\", \"reference\": \"b\"}\n\n{\"candidate\": \"c\", \"reference\": [\"d\", \"e\"]}\n".utf8).write(to: good)
        let pairs = try PairFile(path: good.path)
        XCTAssertEqual(pairs.candidates, ["a", "c"])
        XCTAssertEqual(pairs.references, [["b"], ["d", "e"]])
        XCTAssertEqual(pairs.lines, [1, 3])
        let bad = dir.appendingPathComponent("bad.jsonl")
        try Data("{\"candidate\": \"a\", \"reference\": \"b\"}\n{\"candidate\": \"a\"}\n".utf8).write(to: bad)
        XCTAssertThrowsError(try PairFile(path: bad.path)) { XCTAssertEqual("\($0)", "\(bad.path): line 2: has no field \"reference\"") }
        try Data("{\"candidate\": null, \"reference\": \"b\"}\n".utf8).write(to: bad)
        XCTAssertThrowsError(try PairFile(path: bad.path)) { XCTAssertTrue("\($0)".contains("line 1: field \"candidate\" is not text"), "\($0)") }
        try Data("{\"candidate\": \"a\", \"reference\": [\"b\", 2]}\n".utf8).write(to: bad)
        XCTAssertThrowsError(try PairFile(path: bad.path)) { XCTAssertTrue("\($0)".contains("line 1: field \"reference\" must be a string or a non-empty array of strings"), "\($0)") }
        // Numbers read as their decimal text, as in training records (the one record reader).
        try Data("{\"candidate\": 42, \"reference\": \"42\"}\n".utf8).write(to: bad)
        XCTAssertEqual(try PairFile(path: bad.path).candidates, ["42"])
        try Data("[{\"c\": \"x\", \"r\": \"y\"}]".utf8).write(to: bad)
        XCTAssertEqual(try PairFile(path: bad.path, candidateField: "c", referenceField: "r").candidates, ["x"])
    }
}
