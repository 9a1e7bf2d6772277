import Foundation
import Generator
import TestSupport
import XCTest

/// The sampler's processing against HF transformers' logits processors (golden values).
final class SamplerTests: XCTestCase {
    struct Golden: Decodable {
        struct Case: Decodable {
            struct Options: Decodable { var repetition_penalty, temperature: Double; var top_k: Int; var top_p, min_p: Double }
            var options: Options
            var logits: [Float]
            var history: [Int32]
            var processed: [Float?]
        }
        var cases: [Case]
    }

    func testProcessingMatchesTransformers() throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: TestPaths.golden("Generator/sampler.json")))
        XCTAssertGreaterThanOrEqual(golden.cases.count, 12)
        for (n, c) in golden.cases.enumerated() {
            var options = SamplingOptions()
            options.sample = true
            options.repetitionPenalty = c.options.repetition_penalty
            options.temperature = c.options.temperature
            options.topK = c.options.top_k
            options.topP = c.options.top_p
            options.minP = c.options.min_p
            var logits = c.logits
            logits.withUnsafeMutableBufferPointer { Sampler(options: options).process($0, history: Set(c.history)) }
            for (i, expected) in c.processed.enumerated() {
                if let expected {
                    XCTAssertEqual(logits[i], expected, accuracy: 1e-5 * max(1, abs(expected)), "case \(n) token \(i)")
                } else {
                    XCTAssertEqual(logits[i], -.infinity, "case \(n) token \(i) should be removed")
                }
            }
        }
    }

    func testGreedyIsArgmaxAfterPenaltyAndSamplingIsSeeded() {
        var logits: [Float] = [1, 5, 4.5, -2]
        var options = SamplingOptions()
        options.repetitionPenalty = 2
        var greedy = Sampler(options: options)
        XCTAssertEqual(logits.withUnsafeMutableBufferPointer { greedy.next($0, history: [1]) }, 2, "5/2 < 4.5")
        options.sample = true
        options.topK = 0
        options.seed = 7
        func draws(_ seed: UInt64) -> [Int32] {
            options.seed = seed
            var sampler = Sampler(options: options)
            return (0..<50).map { _ in
                logits = [1, 2, 3, 2.5]
                return logits.withUnsafeMutableBufferPointer { sampler.next($0, history: []) }
            }
        }
        XCTAssertEqual(draws(7), draws(7))
        XCTAssertNotEqual(draws(7), draws(8))
        XCTAssertEqual(Set(draws(7)).count, 4, "every token has some probability")
    }

    func testInvalidOptionsAreRefused() {
        var options = SamplingOptions()
        options.topP = 0
        XCTAssertThrowsError(try options.validate())
        options.topP = 1.2
        XCTAssertThrowsError(try options.validate())
        options.topP = 0.9
        options.temperature = -0.1
        XCTAssertThrowsError(try options.validate())
        options.temperature = .infinity
        XCTAssertThrowsError(try options.validate())
        options.temperature = 0.7
        XCTAssertNoThrow(try options.validate())
    }

    /// Temperature 0 means greedy, as in llama.cpp and mlx-lm, even with sampling asked for.
    func testTemperatureZeroIsGreedy() throws {
        var options = SamplingOptions()
        options.sample = true
        options.temperature = 0
        options.topK = 0
        XCTAssertNoThrow(try options.validate())
        for seed: UInt64 in 0..<20 {
            options.seed = seed
            var sampler = Sampler(options: options)
            var logits: [Float] = [1, 2, 3.5, 3.4]
            XCTAssertEqual(logits.withUnsafeMutableBufferPointer { sampler.next($0, history: []) }, 2)
            XCTAssertEqual(logits, [1, 2, 3.5, 3.4], "no warper touched the logits")
        }
    }
}
