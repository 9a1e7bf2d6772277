import Charts
import Foundation
import XCTest
@testable import Evaluator

/// The checkpoint sweep's report: each step's mean F1 with the bootstrap interval of its
/// questions' F1, the logged validation loss, and the best checkpoint by either metric (never
/// the base); its chart shows both panels.
final class CheckpointSweepTests: XCTestCase {
    func metrics(_ f1: [Double]) -> [PairMetrics] {
        f1.map { PairMetrics(bertScore: PRF(precision: $0, recall: $0, f1: $0), rougeL: OverlapScore(precision: $0 / 2, recall: $0 / 2, f: $0 / 2), chrF: 100 * $0) }
    }

    func sweep(_ metric: CheckpointSweep.Metric) -> CheckpointSweep {
        // F1 rises then falls; the validation loss keeps falling, so the two metrics disagree.
        let models: [(name: String, step: Int, validationLoss: Double?, answers: [String], scores: [PairMetrics])] = [
            ("base", 0, 3.1, ["a", "b", "c"], metrics([0.60, 0.62, 0.61])),
            ("checkpoint-2", 2, 2.9, ["a", "b", "c"], metrics([0.63, 0.66, 0.64])),
            ("checkpoint-4", 4, 2.7, ["a", "b", "c"], metrics([0.70, 0.69, 0.71])),
            ("checkpoint-6", 6, 2.6, ["a", "b", "c"], metrics([0.65, 0.64, 0.66])),
            ("checkpoint-8", 8, nil, ["a", "b", "c"], metrics([0.95, 0.2, 0.3])),
        ]
        return CheckpointSweep(hash: "test-hash", records: [3, 9, 12], models: models, metric: metric, resamples: 2_000, seed: 5)
    }

    func testEachStepCarriesItsMeanIntervalAndLoggedLoss() {
        let report = sweep(.bertScoreF1)
        XCTAssertEqual(report.entries.map(\.step), [0, 2, 4, 6, 8])
        XCTAssertEqual(report.entries[2].bertScoreF1, Bootstrap.meanInterval([0.70, 0.69, 0.71], resamples: 2_000, seed: 5))
        XCTAssertEqual(report.entries[2].bertScoreF1.mean, 0.70, accuracy: 1e-12)
        XCTAssertEqual(report.entries[2].rougeL, 0.35, accuracy: 1e-12)
        XCTAssertEqual(report.entries[2].chrF, 70, accuracy: 1e-9)
        XCTAssertEqual(report.entries.map(\.validationLoss), [3.1, 2.9, 2.7, 2.6, nil])
        for entry in report.entries { XCTAssertLessThanOrEqual(entry.bertScoreF1.low, entry.bertScoreF1.high) }
    }

    func testTheBestCheckpointFollowsTheChosenMetricAndIsNeverTheBase() {
        XCTAssertEqual(sweep(.bertScoreF1).best, "checkpoint-4")
        XCTAssertEqual(sweep(.validationLoss).best, "checkpoint-6")
        let onlyBase = CheckpointSweep(hash: "h", records: [0], models: [("base", 0, 2.0, ["a"], metrics([0.9]))], metric: .bertScoreF1)
        XCTAssertNil(onlyBase.best)
        let table = sweep(.bertScoreF1).table()
        XCTAssertTrue(table.contains("checkpoint-4 *"), table)
        XCTAssertTrue(table.contains("best checkpoint (highest mean BERTScore F1): checkpoint-4"), table)
        XCTAssertEqual(sweep(.bertScoreF1).csv().split(separator: "\n").count, 6)
    }

    func testTheChartDrawsBothPanelsWithIntervals() throws {
        let chart = sweep(.bertScoreF1).chart(title: "demo: held-out bertscore by checkpoint")
        let raster = chart.raster()
        XCTAssertEqual(raster.width, 800)
        XCTAssertEqual(raster.height, 960)
        func count(_ color: Raster.Color, rows: Range<Int>) -> Int {
            rows.reduce(0) { sum, y in sum + (0..<raster.width).filter { raster.pixel($0, y) == color }.count }
        }
        XCTAssertGreaterThan(count(CheckpointSweep.f1Color, rows: 0..<480), 200, "the F1 line, dots and bars in the top panel")
        XCTAssertEqual(count(CheckpointSweep.lossColor, rows: 0..<480), 0)
        XCTAssertGreaterThan(count(CheckpointSweep.lossColor, rows: 480..<960), 200, "the validation loss in the bottom panel")
        let svg = chart.svg()
        XCTAssertEqual(svg.components(separatedBy: "<path d=").count - 1, 5, "one interval bar per model")
        XCTAssertTrue(svg.contains("validation loss"))
        XCTAssertTrue(chart.png().starts(with: [0x89, 0x50, 0x4E, 0x47]))
    }
}
