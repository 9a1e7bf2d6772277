import Foundation
import MedtuneCore
import XCTest

/// The sixteen-lane exponential against the C library's, and the gated activation built on it
/// against the scalar one.
final class VectorExpTests: XCTestCase {
    func testWithinTwoUlpOfExpfOverTheWholeRange() {
        var worst: Float = 0
        var x: Float = -87.3
        while x < 88 {
            let lanes = SIMD16<Float>((0..<16).map { x + Float($0) * 0.000_37 })
            let result = VectorExp.exp(lanes)
            for i in 0..<16 {
                let exact = Foundation.exp(Double(lanes[i]))
                worst = max(worst, Float(abs(Double(result[i]) - exact) / Double(Float(exact).ulp)))
            }
            x += 0.0173
        }
        XCTAssertLessThanOrEqual(worst, 2)
        // Clamped ends: finite, normal, tiny or huge.
        let ends = VectorExp.exp(SIMD16<Float>(repeating: -1000).replacing(with: 1000, where: SIMD16<Float>((0..<16).map { Float($0) }) .>= 8))
        for i in 0..<16 {
            XCTAssertTrue(ends[i].isFinite && ends[i].isNormal)
            XCTAssertTrue(i < 8 ? ends[i] < 1.3e-38 : ends[i] > 1e38, "lane \(i): \(ends[i])")
        }
    }

    func testFloatGatedActivationAgreesWithTheScalarOne() {
        var rng = SplitMix64(seed: 5)
        let count = 16 * 9 + 7
        let gate = (0..<count).map { _ in Float(rng.nextGaussian() * 6) }, up = (0..<count).map { _ in Float(rng.nextGaussian()) }
        var fast = [Float](repeating: .nan, count: count), plain = fast
        SwiGLU.forwardFloat(gate: gate, up: up, count: count, into: &fast)
        SwiGLU.forward(gate: gate, up: up, count: count, into: &plain)
        for i in 0..<count {
            XCTAssertEqual(fast[i], plain[i], accuracy: 4 * plain[i].magnitude.ulp + 1e-30, "element \(i)")
        }
    }
}
