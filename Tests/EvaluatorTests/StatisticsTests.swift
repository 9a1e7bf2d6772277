import XCTest
@testable import Evaluator

final class StatisticsTests: XCTestCase {
    struct Golden: Decodable {
        struct Case: Decodable {
            var name: String
            var base: [Double]
            var lora: [Double]
            var mean_difference: Double
            var permutation_p: Double
            var bootstrap_base_mean_ci: [Double]
            var bootstrap_difference_ci: [Double]
        }
        var cases: [Case]
    }

    func testSignFlipPValueMatchesSciPyExactPermutationTest() throws {
        for c in try GoldenText.load(Golden.self, "statistics.json").cases {
            let result = SignFlipTest.test(differences: zip(c.lora, c.base).map { $0 - $1 })
            XCTAssertTrue(result.exact, c.name)
            XCTAssertEqual(result.pValue, c.permutation_p, accuracy: 1e-12, c.name)
        }
    }

    func testSignFlipSamplingAgreesWithExactEnumeration() throws {
        for c in try GoldenText.load(Golden.self, "statistics.json").cases {
            let d = zip(c.lora, c.base).map { $0 - $1 }
            let sampled = SignFlipTest.test(differences: d, exactLimit: 0, resamples: 200_000, seed: 9)
            XCTAssertFalse(sampled.exact)
            // Binomial standard error of a p-value estimated from 200k draws is below 0.0012.
            XCTAssertEqual(sampled.pValue, c.permutation_p, accuracy: 0.005, c.name)
        }
    }

    func testSignFlipByHand() {
        // Differences 1, 2, 3: the 8 sign patterns give means ±2, ±4/3, ±2/3, ±0; only +2 and -2
        // are as extreme as the observed 2, so p = 2/8.
        XCTAssertEqual(SignFlipTest.test(differences: [1, 2, 3]).pValue, 0.25, accuracy: 1e-15)
        // All differences zero: every pattern ties with the observation.
        XCTAssertEqual(SignFlipTest.test(differences: [0, 0, 0, 0]).pValue, 1)
    }

    func testBootstrapIntervalMatchesSciPyWithinMonteCarloError() throws {
        for c in try GoldenText.load(Golden.self, "statistics.json").cases {
            let base = Bootstrap.meanInterval(c.base, resamples: 50_000, seed: 3)
            XCTAssertEqual(base.mean, c.base.reduce(0, +) / Double(c.base.count), accuracy: 1e-12)
            XCTAssertEqual(base.low, c.bootstrap_base_mean_ci[0], accuracy: 0.002, c.name)
            XCTAssertEqual(base.high, c.bootstrap_base_mean_ci[1], accuracy: 0.002, c.name)
            let diff = Bootstrap.meanInterval(zip(c.lora, c.base).map { $0 - $1 }, resamples: 50_000, seed: 4)
            XCTAssertEqual(diff.mean, c.mean_difference, accuracy: 1e-12)
            XCTAssertEqual(diff.low, c.bootstrap_difference_ci[0], accuracy: 0.002, c.name)
            XCTAssertEqual(diff.high, c.bootstrap_difference_ci[1], accuracy: 0.002, c.name)
        }
    }

    func testBootstrapIsReproducibleForASeedAndExactForTwoValues() {
        let values = [0.61, 0.64, 0.7, 0.58, 0.66]
        XCTAssertEqual(Bootstrap.meanInterval(values, seed: 11), Bootstrap.meanInterval(values, seed: 11))
        XCTAssertNotEqual(Bootstrap.meanInterval(values, seed: 11), Bootstrap.meanInterval(values, seed: 12))
        // Two values a < b: resample means are a (1/4), (a+b)/2 (1/2), b (1/4); the 2.5% and
        // 97.5% quantiles of that distribution are a and b.
        let two = Bootstrap.meanInterval([1, 3], resamples: 20_000, seed: 1)
        XCTAssertEqual(two.low, 1)
        XCTAssertEqual(two.high, 3)
    }

    func testPairedComparisonCountsAndVerdict() {
        let base = [0.60, 0.62, 0.65, 0.61, 0.64, 0.63, 0.60, 0.66, 0.62, 0.61]
        let tuned = base.map { $0 + 0.03 }
        var tunedWithOneWorse = tuned
        tunedWithOneWorse[0] = 0.55
        let comparison = PairedComparison(base: base, tuned: tunedWithOneWorse)
        XCTAssertEqual(comparison.improved, 9)
        XCTAssertEqual(comparison.worsened, 1)
        XCTAssertEqual(comparison.tied, 0)
        XCTAssertEqual(comparison.fractionImproved, 0.9, accuracy: 1e-12)
        XCTAssertLessThan(comparison.test.pValue, 0.05)
        XCTAssertTrue(comparison.verdict().contains("unlikely to be chance"), comparison.verdict())
        let same = PairedComparison(base: base, tuned: base)
        XCTAssertEqual(same.test.pValue, 1)
        XCTAssertTrue(same.verdict().contains("no significant difference"))
        XCTAssertTrue(PairedComparison(base: [0.5, 0.6], tuned: [0.7, 0.8]).verdict().contains("too few"))
    }
}
