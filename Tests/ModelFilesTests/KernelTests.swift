import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

/// The product kernels of every storage type against float64 products of the same weights'
/// decoded values (the decoders themselves match gguf-py bit for bit in DequantizationTests).
///
/// The kernels change only the order of float32 additions (sixteen lanes, four accumulators,
/// input rows four at a time) and apply offsets shared by a sub-block through sums of x, which
/// is exact algebra; so each result must lie within float32 rounding of a sum of `in` terms,
/// checked as |y − y₆₄| ≤ 2e-5 · Σ|wᵢ·xᵢ| (well under the in·2⁻²⁴ ≈ 8e-5 worst case for 1,280 terms).
final class KernelTests: XCTestCase {
    /// Odd shapes: 37 rows (pairs of rows plus a last single row, uneven parallel chunks), rows
    /// of five blocks (the four-accumulator loop and its remainder) or of 100 plain values (the tails of
    /// the vector loops); every input count from the vector path through each remainder of the
    /// four-input groups to the decoded-block path, overwriting and accumulating.
    func testEveryTypeAndInputCountAgreesWithFloat64() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 7)
        var builder = GGUFBuilder()
        let rows = 37
        for type in StorageType.supported {
            let columns = type.isQuantized ? 5 * type.blockSize : 100
            builder.add("w.\(type.name)", type: type, dimensions: [columns, rows],
                        data: randomBlockRows(type, rows: rows, columns: columns, &rng))
        }
        let file = try GGUFFile(path: builder.write(to: dir))
        for info in file.tensors {
            let w = try LinearWeight(file.tensor(named: info.name))
            let dense = w.dequantized().map(Double.init)
            for n in [1, 2, 3, 4, 5, 9, LinearWeight.smallBatchLimit, LinearWeight.smallBatchLimit + 1] {
                let x = (0..<(n * w.inFeatures)).map { _ in Float(rng.nextGaussian()) }
                for accumulate in [false, true] {
                    var y = [Float](repeating: accumulate ? 0.5 : .nan, count: n * w.outFeatures)
                    w.product(x, rows: n, into: &y, accumulate: accumulate)
                    for i in 0..<n {
                        for o in 0..<w.outFeatures {
                            var exact = accumulate ? 0.5 : 0, magnitude = 0.0
                            for k in 0..<w.inFeatures {
                                let term = dense[o * w.inFeatures + k] * Double(x[i * w.inFeatures + k])
                                exact += term
                                magnitude += abs(term)
                            }
                            let actual = Double(y[i * w.outFeatures + o])
                            XCTAssertLessThanOrEqual(abs(actual - exact), 2e-5 * magnitude + 1e-6,
                                                     "\(info.name) n=\(n) row \(o) input \(i) accumulate=\(accumulate)")
                        }
                    }
                }
            }
        }
    }

    /// The fused W·x of real rows of every quantized type in the Qwen GGUF agrees with float64
    /// products of the decoded rows: the real distributions of scales, mins and high bits.
    func testRealRowsOfEveryQuantizedType() throws {
        let file = try GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path)
        var seen: Set<StorageType> = []
        var rng = SplitMix64(seed: 3)
        for info in file.tensors where info.shape.count == 2 && info.type.isQuantized && !seen.contains(info.type) {
            seen.insert(info.type)
            let w = try LinearWeight(file.tensor(named: info.name).leadingRows(64))
            let dense = w.dequantized().map(Double.init)
            let x = (0..<w.inFeatures).map { _ in Float(rng.nextGaussian()) }
            var y = [Float](repeating: .nan, count: w.outFeatures)
            w.vectorProduct(x, into: &y)
            for o in 0..<w.outFeatures {
                var exact = 0.0, magnitude = 0.0
                for k in 0..<w.inFeatures {
                    let term = dense[o * w.inFeatures + k] * Double(x[k])
                    exact += term
                    magnitude += abs(term)
                }
                XCTAssertLessThanOrEqual(abs(Double(y[o]) - exact), 2e-5 * magnitude, "\(info.name) row \(o)")
            }
        }
        XCTAssertEqual(seen, [.q5_0, .q8_0, .q4_K, .q6_K])
    }
}
