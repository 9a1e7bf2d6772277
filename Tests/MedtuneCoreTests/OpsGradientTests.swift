import MedtuneCore
import TestSupport
import XCTest

/// Every backward pass against central finite differences of its own forward, in float64.
final class OpsGradientTests: XCTestCase {
    let tolerance = 1e-4

    func assertClose(_ analytic: Tensor<Double>, _ numeric: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let error = GradientCheck.relativeError(analytic.array, numeric)
        XCTAssertLessThan(error, tolerance, "\(what): relative error \(error)", file: file, line: line)
        XCTAssertGreaterThan(numeric.map(abs).max() ?? 0, 0, "\(what): gradient is identically zero", file: file, line: line)
    }

    func testMatrixProductAllTransposes() {
        var rng = SplitMix64(seed: 1)
        let (m, n, k) = (3, 5, 7)
        for transA in [false, true] {
            for transB in [false, true] {
                let op = MatrixProduct(m: m, n: n, k: k, transA: transA, transB: transB)
                let a = GradientCheck.random(transA ? [k, m] : [m, k], &rng)
                let b = GradientCheck.random(transB ? [n, k] : [k, n], &rng)
                let r = GradientCheck.random([m, n], &rng)
                let c = Tensor<Double>([m, n])
                func loss() -> Double { op.forward(a.pointer, b.pointer, into: c.pointer); return GradientCheck.dot(c, r) }
                let dA = Tensor<Double>(a.shape), dB = Tensor<Double>(b.shape)
                op.backward(r.pointer, a.pointer, b.pointer, dA: dA.pointer, dB: dB.pointer)
                assertClose(dA, GradientCheck.numerical(a, loss), "dA transA=\(transA) transB=\(transB)")
                assertClose(dB, GradientCheck.numerical(b, loss), "dB transA=\(transA) transB=\(transB)")
                // Forward against the definition.
                _ = loss()
                for i in 0..<m { for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]) }
                    XCTAssertEqual(c[i * n + j], s, accuracy: 1e-12)
                } }
            }
        }
    }

    func testEmbeddingWithRepeatedIds() {
        var rng = SplitMix64(seed: 2)
        let op = Embedding(vocabulary: 11, dim: 5)
        let ids: [Int32] = [3, 0, 3, 10, 7, 3]
        let table = GradientCheck.random([11, 5], &rng), r = GradientCheck.random([ids.count, 5], &rng)
        let out = Tensor<Double>([ids.count, 5])
        ids.withUnsafeBufferPointer { ids in
            func loss() -> Double { op.forward(ids: ids, table: table.pointer, into: out.pointer); return GradientCheck.dot(out, r) }
            let dTable = Tensor<Double>(table.shape)
            op.backward(ids: ids, dOut: r.pointer, dTable: dTable.pointer)
            assertClose(dTable, GradientCheck.numerical(table, loss), "dTable")
        }
    }

    func testRMSNorm() {
        var rng = SplitMix64(seed: 3)
        let (rows, dim) = (4, 7)
        let op = RMSNorm(dim: dim, eps: 1e-6)
        let x = GradientCheck.random([rows, dim], &rng), w = GradientCheck.random([dim], &rng)
        let r = GradientCheck.random([rows, dim], &rng)
        let y = Tensor<Double>([rows, dim]), rstd = Tensor<Double>([rows])
        func loss() -> Double { op.forward(x.pointer, weight: w.pointer, rows: rows, into: y.pointer, rstd: rstd.pointer); return GradientCheck.dot(y, r) }
        _ = loss()
        for row in 0..<rows {
            let ms = (0..<dim).map { x[row * dim + $0] * x[row * dim + $0] }.reduce(0, +) / Double(dim)
            XCTAssertEqual(y[row * dim + 2], x[row * dim + 2] / (ms + 1e-6).squareRoot() * w[2], accuracy: 1e-12)
        }
        let dx = Tensor<Double>(x.shape), dw = Tensor<Double>(w.shape)
        op.backward(r.pointer, x: x.pointer, weight: w.pointer, rstd: rstd.pointer, rows: rows, dx: dx.pointer, dWeight: dw.pointer)
        assertClose(dx, GradientCheck.numerical(x, loss), "dx")
        assertClose(dw, GradientCheck.numerical(w, loss), "dWeight")
    }

    func testRotaryEmbeddingForwardAndBackward() {
        var rng = SplitMix64(seed: 4)
        let (tokens, heads, headDim) = (3, 2, 6)
        let op = RotaryEmbedding(headDim: headDim, theta: 10_000)
        let positions = [0, 5, 17]
        let (cos, sin): ([Double], [Double]) = op.table(positions: positions)
        let x = GradientCheck.random([tokens, heads, headDim], &rng), r = GradientCheck.random(x.shape, &rng)
        let y = Tensor<Double>(x.shape)
        func loss() -> Double {
            y.pointer.update(from: x.pointer, count: x.count)
            op.forward(y.pointer, tokens: tokens, heads: heads, cos: cos, sin: sin)
            return GradientCheck.dot(y, r)
        }
        _ = loss()
        // Forward against HF's q·cos + rotate_half(q)·sin with duplicated frequencies.
        for t in 0..<tokens { for h in 0..<heads { for j in 0..<headDim {
            let half = headDim / 2, f = j % half
            let angle = Double(positions[t]) * Double(Float(1) / Float.pow(10_000, Float(2 * f) / Float(headDim)))
            let base = (t * heads + h) * headDim
            let rotated = j < half ? -x[base + j + half] : x[base + j - half]
            XCTAssertEqual(y[base + j], x[base + j] * Foundation.cos(angle) + rotated * Foundation.sin(angle), accuracy: 1e-5)
        } } }
        let dx = r.copy()
        op.backward(dx.pointer, tokens: tokens, heads: heads, cos: cos, sin: sin)
        assertClose(dx, GradientCheck.numerical(x, loss), "dx")
    }

    func testSwiGLU() {
        var rng = SplitMix64(seed: 5)
        let count = 13
        let g = GradientCheck.random([count], &rng, scale: 3), u = GradientCheck.random([count], &rng, scale: 3)
        let r = GradientCheck.random([count], &rng), h = Tensor<Double>([count])
        func loss() -> Double { SwiGLU.forward(gate: g.pointer, up: u.pointer, count: count, into: h.pointer); return GradientCheck.dot(h, r) }
        let dg = Tensor<Double>([count]), du = Tensor<Double>([count])
        SwiGLU.backward(r.pointer, gate: g.pointer, up: u.pointer, count: count, dGate: dg.pointer, dUp: du.pointer)
        assertClose(dg, GradientCheck.numerical(g, loss), "dGate")
        assertClose(du, GradientCheck.numerical(u, loss), "dUp")
    }

    func testDropoutIsSeededAndItsGradientIsTheMask() {
        var rng = SplitMix64(seed: 6)
        let count = 20_000
        let op = Dropout(probability: 0.25, seed: 42)
        let x = GradientCheck.random([count], &rng), y = Tensor<Double>([count]), y2 = Tensor<Double>([count])
        op.forward(x.pointer, count: count, into: y.pointer)
        op.forward(x.pointer, count: count, into: y2.pointer)
        XCTAssertEqual(y.array, y2.array, "same seed, same mask")
        let other = Tensor<Double>([count])
        Dropout(probability: 0.25, seed: 43).forward(x.pointer, count: count, into: other.pointer)
        XCTAssertNotEqual(y.array, other.array, "another seed, another mask")
        let dropped = (0..<count).filter { y[$0] == 0 }.count
        XCTAssertEqual(Double(dropped) / Double(count), 0.25, accuracy: 0.015)
        for i in 0..<count where y[i] != 0 { XCTAssertEqual(y[i], x[i] / 0.75, accuracy: 1e-12) }
        // Closed form: dx = dy · mask / (1 − p), i.e. y/x for every element.
        let dy = GradientCheck.random([count], &rng), dx = Tensor<Double>([count])
        op.backward(dy.pointer, count: count, dx: dx.pointer)
        for i in 0..<count { XCTAssertEqual(dx[i], y[i] == 0 ? 0 : dy[i] / 0.75, accuracy: 1e-12) }
    }

    func testCrossEntropyWithIgnoredLabels() {
        var rng = SplitMix64(seed: 7)
        let (rows, vocabulary) = (5, 9)
        let labels: [Int32] = [3, CrossEntropy.ignoreIndex, 0, 8, CrossEntropy.ignoreIndex]
        let logits = GradientCheck.random([rows, vocabulary], &rng, scale: 4)
        func loss() -> Double {
            let scratch = logits.copy()
            return labels.withUnsafeBufferPointer {
                CrossEntropy.lossAndGradient(logits: scratch.pointer, labels: $0.baseAddress!, rows: rows, vocabulary: vocabulary, gradScale: 1).loss
            }
        }
        // Loss against log-softmax by definition.
        var expected = 0.0
        for r in 0..<rows where labels[r] != CrossEntropy.ignoreIndex {
            let row = (0..<vocabulary).map { logits[r * vocabulary + $0] }
            let lse = Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +))
            expected += lse - row[Int(labels[r])]
        }
        XCTAssertEqual(loss(), expected, accuracy: 1e-12)
        let grad = logits.copy()
        let (_, count) = labels.withUnsafeBufferPointer {
            CrossEntropy.lossAndGradient(logits: grad.pointer, labels: $0.baseAddress!, rows: rows, vocabulary: vocabulary, gradScale: 1)
        }
        XCTAssertEqual(count, 3)
        assertClose(grad, GradientCheck.numerical(logits, loss), "dLogits")
        for j in 0..<vocabulary { XCTAssertEqual(grad[1 * vocabulary + j], 0) }
    }

    func testChunkedCrossEntropyMatchesWholeAndFiniteDifferences() {
        var rng = SplitMix64(seed: 8)
        let (rows, dim, vocabulary) = (7, 5, 23)
        let labels: [Int32] = [4, -100, 22, 0, -100, 9, 9]
        let hidden = GradientCheck.random([rows, dim], &rng), head = DenseMatrix(GradientCheck.random([vocabulary, dim], &rng))
        func loss(chunk: Int, dHidden: UnsafeMutablePointer<Double>? = nil) -> (Double, Int) {
            labels.withUnsafeBufferPointer {
                ChunkedCrossEntropy(chunkRows: chunk)(hidden: hidden.pointer, rows: rows, head: head, labels: $0.baseAddress!,
                                                      gradScale: 1, dHidden: dHidden)
            }
        }
        let whole = loss(chunk: rows)
        for chunk in [1, 2, 3] {
            let part = loss(chunk: chunk)
            XCTAssertEqual(part.0, whole.0, accuracy: 1e-10)
            XCTAssertEqual(part.1, 5)
        }
        let dHidden = Tensor<Double>(hidden.shape)
        _ = loss(chunk: 2, dHidden: dHidden.pointer)
        assertClose(dHidden, GradientCheck.numerical(hidden) { loss(chunk: 3).0 }, "dHidden")
        for j in 0..<dim { XCTAssertEqual(dHidden[1 * dim + j], 0) }
        let none = [Int32](repeating: -100, count: rows)
        let empty = none.withUnsafeBufferPointer {
            ChunkedCrossEntropy(chunkRows: 2)(hidden: hidden.pointer, rows: rows, head: head, labels: $0.baseAddress!, dHidden: nil)
        }
        XCTAssertEqual(empty.count, 0)
    }
}
