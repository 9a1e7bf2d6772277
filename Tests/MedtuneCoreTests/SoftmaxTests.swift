import Foundation
import MedtuneCore
import XCTest

/// Both softmax variants against a double-precision reference, and the rules every caller relies
/// on: masked entries, a NaN score, a row with nothing visible.
final class SoftmaxTests: XCTestCase {
    /// Every tail length around the sixteen-lane blocks of the vectorized variant.
    func testRowsOfEveryTailLengthMatchTheReference() {
        for count in 1...40 {
            let row = (0..<count).map { Float(($0 * 37) % 11) * 0.7 - 3 }
            let peak = row.max()!
            let expected = row.map { Foundation.exp(Double($0 - peak)) }
            let total = expected.reduce(0, +)
            var vectorized = row, exact = row
            Softmax.vectorized(&vectorized, count: count)
            Softmax.exact(&exact, count: count)
            for i in 0..<count {
                XCTAssertEqual(Double(vectorized[i]), expected[i] / total, accuracy: 1e-6, "vectorized, \(count) entries")
                XCTAssertEqual(Double(exact[i]), expected[i] / total, accuracy: 1e-6, "exact, \(count) entries")
            }
        }
    }

    func testMaskedEntriesAreZeroAndTakeNoShare() {
        let mask: [UInt8] = (0..<20).map { $0 % 3 == 0 ? 0 : 1 }
        let row = (0..<20).map { Float($0) * 0.25 }
        var visible = zip(row, mask).filter { $0.1 != 0 }.map(\.0)
        Softmax.exact(&visible, count: visible.count)
        for variant in [Softmax.exact(_:count:mask:), Softmax.vectorized(_:count:mask:)] as [(UnsafeMutablePointer<Float>, Int, UnsafePointer<UInt8>?) -> Void] {
            var masked = row
            variant(&masked, masked.count, mask)
            XCTAssertEqual(zip(masked, mask).filter { $0.1 == 0 }.map(\.0), Array(repeating: 0, count: 7))
            let kept = zip(masked, mask).filter { $0.1 != 0 }.map(\.0)
            for (a, b) in zip(kept, visible) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        }
    }

    func testNaNPoisonsTheRowAndNothingVisibleGivesZeros() {
        for variant in [Softmax.exact(_:count:mask:), Softmax.vectorized(_:count:mask:)] as [(UnsafeMutablePointer<Float>, Int, UnsafePointer<UInt8>?) -> Void] {
            var poisoned: [Float] = (0..<18).map(Float.init)
            poisoned[17] = .nan
            variant(&poisoned, poisoned.count, nil)
            XCTAssertTrue(poisoned.allSatisfy(\.isNaN))

            var hidden: [Float] = (0..<18).map(Float.init)
            hidden[3] = .nan
            let none = [UInt8](repeating: 0, count: 18)
            variant(&hidden, hidden.count, none)
            XCTAssertEqual(hidden, Array(repeating: 0, count: 18), "a masked NaN is not seen")
        }
    }
}
