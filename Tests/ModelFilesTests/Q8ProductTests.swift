import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

/// The integer kernels of `MatrixPrecision.q8` (portable C, AVX2, AVX-512 VNNI: each that this
/// CPU runs) against an independent reference: the float64 dot of the weight row as medtune's
/// decoders dequantize it (bit for bit gguf-py's, DequantizationTests) with the quantized input
/// row dequantized (value · block scale). The kernels sum the 8-bit products exactly in int32 per
/// block and round only when scaling and adding blocks in float32, so each result must lie within
/// float32 rounding of the reference: |y − y₆₄| ≤ 2e-5 · Σ|wᵢ·x̂ᵢ| (as KernelTests).
final class Q8ProductTests: XCTestCase {
    /// Real rows of every block type in the Qwen GGUF (Q5_0, Q8_0, Q4_K, Q6_K), and real values
    /// re-encoded as the two types it lacks (Q4_0, Q5_K), times inputs shaped like activations:
    /// Gaussian with a few large outliers.
    func testKernelsMatchTheDequantizedProductOnRealRows() throws {
        let file = try GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path)
        var rng = SplitMix64(seed: 11)
        var seen: [StorageType: LinearWeight] = [:]
        for info in file.tensors where info.shape.count == 2 && Q8Rows.blockSize(for: info.type) != nil && seen[info.type] == nil {
            seen[info.type] = try LinearWeight(file.tensor(named: info.name).leadingRows(32))
        }
        XCTAssertEqual(Set(seen.keys), [.q5_0, .q8_0, .q4_K, .q6_K])
        let wide = try XCTUnwrap(seen[.q4_K]).dequantized()
        for (type, weight) in seen {
            try assertKernels(type, rows: 32, columns: weight.inFeatures, bytes: storedBytes(weight), &rng)
        }
        for type in [StorageType.q4_0, .q5_K] {
            try assertKernels(type, rows: 32, columns: 4864, bytes: encoded(wide, as: type, columns: 4864), &rng)
        }
    }

    /// Every type on random payload bytes (every quant value, every high bit, every 6-bit scale
    /// and min) in rows of one to three blocks, five and seven (every remainder of the AVX-512
    /// kernels' steps of four blocks, and an odd count: the last block alone where they take
    /// two at a time), times inputs at the edges of quantization: all
    /// zero (a zero scale), one nonzero value, a constant row (every value ±127), values that
    /// round to half steps, and magnitudes from 1e-30 to 1e30 in one row.
    func testKernelsMatchTheDequantizedProductOnEdgeCases() throws {
        var rng = SplitMix64(seed: 5)
        for type in [StorageType.q4_0, .q5_0, .q8_0, .q4_K, .q5_K, .q6_K] {
            for blocks in [1, 2, 3, 5, 7] {
                let columns = blocks * type.blockSize
                let bytes = randomBlockRows(type, rows: 4, columns: columns, &rng)
                var inputs: [[Float]] = [
                    [Float](repeating: 0, count: columns),
                    (0..<columns).map { $0 == columns / 2 ? -3.5 : 0 },
                    [Float](repeating: -0.25, count: columns),
                    (0..<columns).map { Float($0 % 255) - 127 + 0.5 },
                    (0..<columns).map { i in Float(i % 2 == 0 ? 1 : -1) * powf(10, Float(i % 61 - 30)) },
                ]
                inputs.append((0..<columns).map { _ in Float(rng.nextGaussian()) })
                for x in inputs {
                    try assertKernels(type, rows: 4, columns: columns, bytes: bytes, inputs: x)
                }
            }
        }
    }

    /// The quantized input: each block's scale is its largest magnitude / 127, each value within
    /// half a step of x (and the float rounding of 127 / max), the group sums those of the values; a NaN or an infinity in a block makes
    /// that block's scale, and so every product with it, NaN.
    func testInputQuantization() {
        var rng = SplitMix64(seed: 9)
        for block in [32, 256] {
            var x = (0..<(4 * block)).map { _ in Float(rng.nextGaussian() * 3) }
            let q = Q8Rows(x, rows: 1, count: x.count, block: block)
            for b in 0..<4 {
                let values = x[(b * block)..<((b + 1) * block)]
                XCTAssertEqual(q.scales[b], values.map(abs).max()! / 127)
                for i in values.indices {
                    XCTAssertLessThanOrEqual(abs(Float(q.values[i]) * q.scales[b] - x[i]), q.scales[b] * 0.5001)
                }
            }
            for g in 0..<(x.count / 16) {
                XCTAssertEqual(Int(q.sums[g]), q.values[(16 * g)..<(16 * g + 16)].reduce(0) { $0 + Int($1) })
            }
            x[block + 3] = .nan
            x[2 * block] = -.infinity
            let poisoned = Q8Rows(x, rows: 1, count: x.count, block: block)
            XCTAssertEqual(poisoned.scales.map(\.isNaN), [false, true, true, false])
        }
    }

    /// `LinearWeight.product` in q8 multiplies every input row with the integer kernels, for one,
    /// a few and many rows, overwriting or adding; float weights stay float32 there.
    func testProductInQ8UsesTheKernelsForEveryRowCount() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 13)
        var builder = GGUFBuilder()
        for type in [StorageType.q5_0, .q6_K, .f32] {
            let columns = type.isQuantized ? 2 * type.blockSize : 64
            builder.add("w.\(type.name)", type: type, dimensions: [columns, 37], data: randomBlockRows(type, rows: 37, columns: columns, &rng))
        }
        let file = try GGUFFile(path: builder.write(to: dir))
        for info in file.tensors {
            let w = try LinearWeight(file.tensor(named: info.name))
            for n in [1, 3, LinearWeight.smallBatchLimit + 1] {
                let x = (0..<(n * w.inFeatures)).map { _ in Float(rng.nextGaussian()) }
                // The reference: each input row quantized and multiplied by the portable kernel, or
                // the float32 product for float weights.
                var expected = [Float](repeating: 0.5, count: n * w.outFeatures)
                if let block = Q8Rows.blockSize(for: w.type) {
                    let q = Q8Rows(x, rows: n, count: w.inFeatures, block: block)
                    for i in 0..<n {
                        expected.withUnsafeMutableBufferPointer { y in
                            q.dots(w.type, w.tensor.bytes.baseAddress!, rowBytes: w.tensor.bytes.count / w.outFeatures, weightRows: w.outFeatures,
                                   input: i, into: y.baseAddress! + i * w.outFeatures, accumulate: true, kernel: 0)
                        }
                    }
                } else {
                    w.product(x, rows: n, into: &expected, accumulate: true)
                }
                var y = [Float](repeating: 0.5, count: n * w.outFeatures)
                w.product(x, rows: n, into: &y, accumulate: true, precision: .q8)
                for j in y.indices {
                    XCTAssertEqual(y[j], expected[j], accuracy: 1e-4 * max(1, abs(expected[j])), "\(info.name) n=\(n) output \(j)")
                }
            }
        }
    }

    // MARK: Helpers

    /// Each kernel's products of the `rows` weight rows (`bytes`, `columns` values of `type` each)
    /// with a quantized input row (`inputs`, or Gaussian with outliers) against the reference.
    private func assertKernels(_ type: StorageType, rows: Int, columns: Int, bytes: [UInt8], inputs: [Float]? = nil,
                               _ rng: inout SplitMix64, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = inputs ?? (0..<columns).map { i in Float(rng.nextGaussian()) * (i % 97 == 0 ? 30 : 1) }
        try assertKernels(type, rows: rows, columns: columns, bytes: bytes, inputs: x, file: file, line: line)
    }

    private func assertKernels(_ type: StorageType, rows: Int, columns: Int, bytes: [UInt8], inputs x: [Float],
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let block = try XCTUnwrap(Q8Rows.blockSize(for: type))
        let rowBytes = try XCTUnwrap(type.byteCount(elements: columns))
        XCTAssertEqual(bytes.count, rows * rowBytes, file: file, line: line)
        let q = Q8Rows(x, rows: 1, count: columns, block: block)
        var dense = [Float](repeating: 0, count: columns)
        for kernel in 0...Q8Rows.bestKernel {
            var y = [Float](repeating: .nan, count: rows)
            bytes.withUnsafeBytes { w in
                q.dots(type, w.baseAddress!, rowBytes: rowBytes, weightRows: rows, input: 0, into: &y, accumulate: false, kernel: kernel)
            }
            for r in 0..<rows {
                bytes.withUnsafeBytes { w in RowCodec.dequantize(type, w.baseAddress! + r * rowBytes, into: &dense, count: columns) }
                var exact = 0.0, magnitude = 0.0
                for k in 0..<columns {
                    let term = Double(dense[k]) * Double(q.values[k]) * Double(q.scales[k / block])
                    exact += term
                    magnitude += abs(term)
                }
                XCTAssertLessThanOrEqual(abs(Double(y[r]) - exact), 2e-5 * magnitude, "\(type.name) × \(columns), kernel \(kernel), row \(r)",
                                         file: file, line: line)
            }
        }
    }

    /// The stored bytes of a weight's rows.
    private func storedBytes(_ weight: LinearWeight) -> [UInt8] { Array(weight.tensor.bytes) }

    /// Float rows re-encoded as `type` (llama.cpp's reference quantization).
    private func encoded(_ values: [Float], as type: StorageType, columns: Int) throws -> [UInt8] {
        let rowBytes = try XCTUnwrap(type.byteCount(elements: columns))
        let rows = values.count / columns
        var bytes = [UInt8](repeating: 0, count: rows * rowBytes)
        bytes.withUnsafeMutableBytes { out in
            RowCodec.quantize(type, values, into: out.baseAddress!, count: rows * columns)
        }
        return bytes
    }
}
