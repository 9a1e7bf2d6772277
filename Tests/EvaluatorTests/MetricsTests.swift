import XCTest
@testable import Evaluator

final class MetricsTests: XCTestCase {
    struct Golden: Decodable {
        struct Score: Decodable { var P: Double; var R: Double; var F: Double }
        struct Single: Decodable {
            var id: String
            var chrF: Double
            var rougeL: Score
            var rougeL_default_tokenizer: Score?
            var tokens: Int
        }
        struct Multi: Decodable { var id: String; var chrF: Double; var rougeL: Score }
        var single: [Single]
        var multi: [Multi]
        var corpus_chrF: Double
    }

    struct Pairs: Decodable {
        var pairs: [GoldenPair]
        var multi_reference_pairs: [GoldenPair]
    }

    func testChrFAndRougeLMatchSacrebleuAndRougeScore() throws {
        let golden = try GoldenText.load(Golden.self, "metrics.json")
        let pairs = try GoldenText.load(Pairs.self, "bertscore.json")
        XCTAssertEqual(golden.single.count, pairs.pairs.count)
        let chrF = ChrF()
        var statistics: [ChrF.Statistics] = []
        for (expected, pair) in zip(golden.single, pairs.pairs) {
            XCTAssertEqual(expected.id, pair.id)
            let candidate = try GoldenText.resolve(pair.candidate), reference = try GoldenText.resolve(pair.reference!)
            XCTAssertEqual(chrF.score(candidate: candidate, reference: reference), expected.chrF, accuracy: 1e-9, pair.id)
            statistics.append(chrF.statistics(candidate: candidate, references: [reference]))
            XCTAssertEqual(MetricTokenizer.tokens(candidate).count, expected.tokens, pair.id)
            let rouge = RougeL.score(candidate: candidate, reference: reference)
            XCTAssertEqual(rouge.precision, expected.rougeL.P, accuracy: 1e-12, pair.id)
            XCTAssertEqual(rouge.recall, expected.rougeL.R, accuracy: 1e-12, pair.id)
            XCTAssertEqual(rouge.f, expected.rougeL.F, accuracy: 1e-12, pair.id)
            if let standard = expected.rougeL_default_tokenizer {
                XCTAssertEqual(rouge.f, standard.F, accuracy: 1e-12, "ASCII text tokenises as rouge-score's default: \(pair.id)")
            }
        }
        XCTAssertEqual(chrF.corpusScore(statistics), golden.corpus_chrF, accuracy: 1e-9)

        for (expected, pair) in zip(golden.multi, pairs.multi_reference_pairs) {
            let candidate = try GoldenText.resolve(pair.candidate)
            let references = try pair.references!.map(GoldenText.resolve)
            XCTAssertEqual(chrF.score(candidate: candidate, references: references), expected.chrF, accuracy: 1e-9, pair.id)
            XCTAssertEqual(RougeL.score(candidate: candidate, references: references).f, expected.rougeL.F, accuracy: 1e-12, pair.id)
        }
    }

    func testMetricTokenizerSplitsScriptsAsDocumented() {
        XCTAssertEqual(MetricTokenizer.tokens("患者服用Aspirin 100mg，每日一次。"),
                       ["患", "者", "服", "用", "aspirin", "100mg", "每", "日", "一", "次"])
        XCTAssertEqual(MetricTokenizer.tokens("Naïve T-cells"), ["naïve", "t", "cells"])
        XCTAssertEqual(MetricTokenizer.tokens("  ,. "), [])
    }

    func testRougeLByHand() {
        // LCS of "abcde" and "ace" by characters is 3: P = 3/3, R = 3/5, F = 0.75.
        let s = RougeL.score(candidate: "阿 曹 额", reference: "阿 波 曹 的 额")
        XCTAssertEqual(s.precision, 1)
        XCTAssertEqual(s.recall, 0.6, accuracy: 1e-15)
        XCTAssertEqual(s.f, 0.75, accuracy: 1e-15)
        XCTAssertEqual(RougeL.score(candidate: "", reference: "abc"), .zero)
    }

    func testChrFByHand() {
        // Identical strings score 100, whitespace is ignored, disjoint characters score 0.
        XCTAssertEqual(ChrF().score(candidate: "abc def", reference: "abcdef"), 100, accuracy: 1e-12)
        XCTAssertEqual(ChrF().score(candidate: "xyz", reference: "abc"), 0)
        // "ab" vs "abc": order 1 P=1 R=2/3, order 2 P=1 R=1/2; orders 3+ have no candidate n-grams.
        // avgP = 1, avgR = 7/12; F2 = 5·P·R/(4P+R).
        let r = 7.0 / 12
        XCTAssertEqual(ChrF().score(candidate: "ab", reference: "abc"), 100 * 5 * r / (4 + r), accuracy: 1e-12)
    }
}
