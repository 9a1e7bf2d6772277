import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

final class LinearWeightTests: XCTestCase {
    /// y = x·Wᵀ, dx = dy·W and W·x for real quantized weights of every K/legacy type in the Qwen
    /// GGUF agree with float64 products of gguf-py's dequantized matrices.
    func testProductsMatchReference() throws {
        let golden = try Golden.load("gguf_qwen.json", as: GGUFQwenGolden.self)
        let file = try GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path)
        XCTAssertEqual(Set(golden.products.map(\.type)), ["Q8_0", "Q5_0", "Q6_K", "Q4_K"])
        for expected in golden.products {
            let w = try LinearWeight(file.tensor(named: expected.tensor))
            XCTAssertEqual(w.shape, expected.shape)
            let (out, inputs) = (w.outFeatures, w.inFeatures)
            let x = pattern(rows: 3, cols: inputs, 7, 13)
            let dy = pattern(rows: 3, cols: out, 5, 3)

            var y = [Float](repeating: 0, count: 3 * out)
            w.product(x, rows: 3, into: &y)
            assertClose(y, expected.y, "\(expected.tensor) product")

            var dx = [Float](repeating: 0, count: 3 * inputs)
            w.transposedProduct(dy, rows: 3, into: &dx)
            assertClose(dx, expected.dx, "\(expected.tensor) transposed product")

            var single = [Float](repeating: 0, count: out)
            w.product(x, rows: 1, into: &single)
            assertClose(single, Array(expected.y.prefix(out)), "\(expected.tensor) vector product")
            var reference = [Float](repeating: 0, count: out)
            w.decodedVectorProduct(x, into: &reference)
            assertClose(reference, Array(expected.y.prefix(out)), "\(expected.tensor) decoded vector product")

            // Double (gradient checks) and accumulation.
            var yd = [Double](repeating: 1, count: 3 * out)
            w.product(x.map(Double.init), rows: 3, into: &yd, accumulate: true)
            assertClose(yd.map { Float($0 - 1) }, expected.y, "\(expected.tensor) Double product")
            var dxd = [Double](repeating: 0, count: 3 * inputs)
            w.transposedProduct(dy.map(Double.init), rows: 3, into: &dxd)
            assertClose(dxd.map(Float.init), expected.dx, "\(expected.tensor) Double transposed product")
        }
    }

    /// Embedding rows of the Q5_0 token embedding decode exactly as gguf-py decodes them; an id
    /// outside the vocabulary is an error.
    func testEmbeddingRows() throws {
        let golden = try Golden.load("gguf_qwen.json", as: GGUFQwenGolden.self)
        let file = try GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path)
        let embedding = try LinearWeight(file.tensor(named: golden.embedding.tensor))
        var rows = [Float](repeating: .nan, count: golden.embedding.ids.count * embedding.inFeatures)
        try embedding.embeddingRows(golden.embedding.ids, into: &rows)
        XCTAssertEqual(rows.map(\.bitPattern), golden.embedding.values.map(\.bitPattern))
        var one = [Double](repeating: 0, count: embedding.inFeatures)
        XCTAssertThrowsError(try embedding.embeddingRows([embedding.outFeatures], into: &one))
    }

    /// Every storage type gives the same products as its own decoded matrix multiplied naively,
    /// through all three code paths (f32 in place, decoded blocks, fused rows), including a
    /// matrix taller than one decoding block.
    func testAllStorageTypesAgreeWithDecodedMatrix() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let golden = try Golden.load("gguf_blocks.json", as: BlockGolden.self)
        var builder = GGUFBuilder()
        // 300 rows of 256 (or 512) elements: repeat each golden case's bytes.
        let rowCount = 300
        for c in golden.cases where c.source != "random bytes" || ["Q4_K", "Q5_K", "Q6_K"].contains(c.type) {
            let type = try XCTUnwrap(StorageType.supported.first { $0.name == c.type })
            let bytes = c.bytes.hexBytes
            let rowBytes = bytes.count / c.shape[0]
            var data: [UInt8] = []
            for r in 0..<rowCount { data += bytes[(r % c.shape[0]) * rowBytes..<(r % c.shape[0] + 1) * rowBytes] }
            builder.add("w.\(c.type)", type: type, dimensions: [c.shape[1], rowCount], data: data)
        }
        let file = try GGUFFile(path: builder.write(to: dir))
        XCTAssertEqual(Set(file.tensors.map(\.type)), Set(StorageType.supported))
        for info in file.tensors {
            let w = try LinearWeight(file.tensor(named: info.name))
            let dense = w.dequantized()
            let (out, inputs) = (w.outFeatures, w.inFeatures)
            // A few rows (each weight row decoded once) and many (decoded blocks and sgemm).
            for n in [2, 7, LinearWeight.smallBatchLimit + 2] {
                let x = pattern(rows: n, cols: inputs, 3, 5)
                let dy = pattern(rows: n, cols: out, 11, 2)
                var expectedY = [Double](repeating: 0, count: n * out)
                var expectedDx = [Double](repeating: 0, count: n * inputs)
                for i in 0..<n {
                    for o in 0..<out {
                        for k in 0..<inputs {
                            let wv = Double(dense[o * inputs + k])
                            expectedY[i * out + o] += Double(x[i * inputs + k]) * wv
                            expectedDx[i * inputs + k] += Double(dy[i * out + o]) * wv
                        }
                    }
                }
                var y = [Float](repeating: 0, count: n * out)
                w.product(x, rows: n, into: &y)
                assertClose(y, expectedY, "\(info.name) product, \(n) rows")
                var dx = [Float](repeating: 0, count: n * inputs)
                w.transposedProduct(dy, rows: n, into: &dx)
                assertClose(dx, expectedDx, "\(info.name) transposed product, \(n) rows")
                var v = [Float](repeating: 0, count: out)
                w.vectorProduct(x, into: &v)
                assertClose(v, Array(expectedY.prefix(out)), "\(info.name) vector product")
            }
        }
    }

    func testRejectsNonMatrixAndUnsupportedTypes() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var builder = GGUFBuilder()
        builder.add("bias", type: .f32, dimensions: [4], data: littleEndianBytes([1, 2, 3, 4]))
        builder.tensors.append(.init(name: "q4_1", typeID: 3, dimensions: [32, 1], data: [UInt8](repeating: 0, count: 20)))
        let file = try GGUFFile(path: builder.write(to: dir))
        XCTAssertThrowsError(try LinearWeight(file.tensor(named: "bias"))) { XCTAssertTrue("\($0)".contains("tensor bias")) }
        XCTAssertThrowsError(try LinearWeight(file.tensor(named: "q4_1"))) { XCTAssertTrue("\($0)".contains("Q4_1"), "\($0)") }
    }

    /// Relative agreement in the L∞ sense: each element within 1e-4 of the largest magnitude.
    private func assertClose(_ actual: [Float], _ expected: [Double], _ message: String, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, message, line: line)
        let scale = max(expected.map(abs).max() ?? 0, 1e-6)
        let worst = zip(actual, expected).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-4 * scale, message, line: line)
    }
}
