import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

/// Products of one input by several matrices in one parallel region (`SharedInputProducts`), as a
/// decoding step runs them: the same bits as each matrix's own product, for the real quantized
/// weights of one Qwen layer, and each matrix's own `forward` where a matrix has no row kernels.
final class SharedInputProductTests: XCTestCase {
    private func layer(_ names: [String]) throws -> [LinearWeight] {
        let file = try GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path)
        return try names.map { try LinearWeight(file.tensor(named: "blk.0.\($0).weight")) }
    }

    func testStackedProductsAreEachProductAlone() throws {
        let weights = try layer(["attn_q", "attn_k", "attn_v"])
        let inFeatures = weights[0].inFeatures
        for rows in [1, 3, LinearWeight.smallBatchLimit + 1] {
            XCTAssertEqual(weights[0].rowSplitProduct(of: [0], rows: rows) != nil, rows <= LinearWeight.smallBatchLimit)
            let x = pattern(rows: rows, cols: inFeatures, 7, 13)
            for accumulate in [false, true] {
                let stacked = weights.map { Tensor<Float>([rows, $0.outFeatures]) }
                for output in stacked { output.fill(0.25) }
                SharedInputProducts.compute(zip(weights, stacked).map { ($0, $1.pointer) }, of: x, rows: rows, accumulate: accumulate)
                for (w, output) in zip(weights, stacked) {
                    var alone = [Float](repeating: 0.25, count: output.count)
                    w.product(x, rows: rows, into: &alone, accumulate: accumulate)
                    XCTAssertEqual(output.array.map(\.bitPattern), alone.map(\.bitPattern), "\(w.name), rows \(rows), accumulate \(accumulate)")
                }
            }
        }
    }

    func testAMatrixWithoutRowKernelsTakesItsOwnForward() throws {
        let stored = try layer(["attn_k"])[0]
        let dense = DenseMatrix(Tensor<Float>([stored.outFeatures, stored.inFeatures], stored.dequantized()))
        XCTAssertNil(dense.rowSplitProduct(of: [0], rows: 1))
        let x = pattern(rows: 1, cols: stored.inFeatures, 5, 3)
        let denseShared = Tensor<Float>([stored.outFeatures]), storedShared = Tensor<Float>([stored.outFeatures])
        denseShared.fill(1); storedShared.fill(1)
        SharedInputProducts.compute([(dense, denseShared.pointer), (stored, storedShared.pointer)], of: x, rows: 1, accumulate: true)
        var denseOwn = [Float](repeating: 1, count: stored.outFeatures), storedOwn = denseOwn
        dense.forwardAdding(x, rows: 1, into: &denseOwn, precision: .float32)
        stored.product(x, rows: 1, into: &storedOwn, accumulate: true)
        XCTAssertEqual(denseShared.array.map(\.bitPattern), denseOwn.map(\.bitPattern))
        XCTAssertEqual(storedShared.array.map(\.bitPattern), storedOwn.map(\.bitPattern))
    }

    /// Gate and up in one region: each chunk of rows is handed to `combine` once, after both
    /// products have it; more rows than the row kernels take are refused without computing.
    func testPairedProductsCoverEveryRowOnce() throws {
        let weights = try layer(["ffn_gate", "ffn_up"])
        let (gate, up) = (weights[0], weights[1])
        for rows in [1, 4] {
            let x = pattern(rows: rows, cols: gate.inFeatures, 3, 11)
            let ya = Tensor<Float>([rows, gate.outFeatures]), yb = Tensor<Float>([rows, gate.outFeatures])
            ya.fill(.nan); yb.fill(.nan)
            var combined = [Int](repeating: 0, count: gate.outFeatures), unfinished = 0
            let lock = NSLock()
            let paired = SharedInputProducts.paired(gate, up, of: x, rows: rows, into: ya.pointer, yb.pointer) { range in
                let missing = (0..<rows).reduce(0) { sum, i in
                    sum + range.filter { ya[i * gate.outFeatures + $0].isNaN || yb[i * gate.outFeatures + $0].isNaN }.count
                }
                lock.withLock {
                    for r in range { combined[r] += 1 }
                    unfinished += missing
                }
            }
            XCTAssertTrue(paired)
            XCTAssertEqual(combined, Array(repeating: 1, count: gate.outFeatures))
            XCTAssertEqual(unfinished, 0, "both products are done for the rows handed to combine")
            var expectedA = [Float](repeating: 0, count: ya.count), expectedB = expectedA
            gate.product(x, rows: rows, into: &expectedA)
            up.product(x, rows: rows, into: &expectedB)
            XCTAssertEqual(ya.array.map(\.bitPattern), expectedA.map(\.bitPattern), "gate, rows \(rows)")
            XCTAssertEqual(yb.array.map(\.bitPattern), expectedB.map(\.bitPattern), "up, rows \(rows)")
        }
        let many = LinearWeight.smallBatchLimit + 1
        let x = pattern(rows: many, cols: gate.inFeatures, 3, 11)
        let ya = Tensor<Float>([many, gate.outFeatures]), yb = Tensor<Float>([many, gate.outFeatures])
        ya.fill(.nan); yb.fill(.nan)
        var calls = 0
        XCTAssertFalse(SharedInputProducts.paired(gate, up, of: x, rows: many, into: ya.pointer, yb.pointer) { _ in calls += 1 })
        XCTAssertEqual(calls, 0)
        XCTAssertTrue(ya.array.allSatisfy(\.isNaN) && yb.array.allSatisfy(\.isNaN), "nothing is computed")
    }
}
