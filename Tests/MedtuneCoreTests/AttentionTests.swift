import MedtuneCore
import TestSupport
import XCTest

/// Causal grouped-query attention: forward against a direct loop implementation, backward
/// against finite differences, on shapes that include one head, a GQA ratio of 7, odd sizes,
/// cached decoding and fully masked (left-padded) query rows.
final class AttentionTests: XCTestCase {
    struct Case {
        var batch, queryLength, keyLength, queryHeads, kvHeads, headDim: Int
        var capacity: Int? = nil
        var mask: [UInt8]? = nil
    }

    let cases: [Case] = [
        Case(batch: 1, queryLength: 5, keyLength: 5, queryHeads: 1, kvHeads: 1, headDim: 3),
        Case(batch: 2, queryLength: 4, keyLength: 4, queryHeads: 7, kvHeads: 1, headDim: 4),
        Case(batch: 2, queryLength: 5, keyLength: 5, queryHeads: 4, kvHeads: 2, headDim: 5,
             mask: [0, 0, 1, 1, 1,  1, 1, 1, 1, 1]),
        Case(batch: 2, queryLength: 2, keyLength: 5, queryHeads: 6, kvHeads: 3, headDim: 4, capacity: 7,
             mask: [1, 1, 1, 1, 1,  0, 1, 1, 1, 1]),
    ]

    /// Attention written as plainly as possible, as the reference for forward.
    func reference(_ c: Case, q: Tensor<Double>, k: Tensor<Double>, v: Tensor<Double>) -> [Double] {
        let capacity = c.capacity ?? c.keyLength, group = c.queryHeads / c.kvHeads
        var out = [Double](repeating: 0, count: c.batch * c.queryLength * c.queryHeads * c.headDim)
        for b in 0..<c.batch { for h in 0..<c.queryHeads { for t in 0..<c.queryLength {
            let position = c.keyLength - c.queryLength + t
            var weights: [Double] = []
            var allowed: [Int] = []
            for s in 0...position where (c.mask?[b * c.keyLength + s] ?? 1) != 0 {
                var dot = 0.0
                for d in 0..<c.headDim {
                    dot += q[((b * c.queryLength + t) * c.queryHeads + h) * c.headDim + d]
                         * k[((b * capacity + s) * c.kvHeads + h / group) * c.headDim + d]
                }
                weights.append(dot / Double(c.headDim).squareRoot())
                allowed.append(s)
            }
            if allowed.isEmpty { continue }
            let m = weights.max()!
            let e = weights.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
            for d in 0..<c.headDim {
                var sum = 0.0
                for (i, s) in allowed.enumerated() { sum += e[i] / z * v[((b * capacity + s) * c.kvHeads + h / group) * c.headDim + d] }
                out[((b * c.queryLength + t) * c.queryHeads + h) * c.headDim + d] = sum
            }
        } } }
        return out
    }

    func testForwardAndBackward() {
        var rng = SplitMix64(seed: 11)
        for c in cases {
            let op = CausalAttention(batch: c.batch, queryLength: c.queryLength, keyLength: c.keyLength,
                                     queryHeads: c.queryHeads, kvHeads: c.kvHeads, headDim: c.headDim, keyCapacity: c.capacity)
            let capacity = c.capacity ?? c.keyLength
            let q = GradientCheck.random([c.batch, c.queryLength, c.queryHeads, c.headDim], &rng)
            let k = GradientCheck.random([c.batch, capacity, c.kvHeads, c.headDim], &rng)
            let v = GradientCheck.random(k.shape, &rng)
            let r = GradientCheck.random(q.shape, &rng)
            let out = Tensor<Double>(q.shape), probs = Tensor<Double>([op.probabilityCount])
            let mask = c.mask ?? []
            func run() {
                mask.withUnsafeBufferPointer { m in
                    op.forward(q: q.pointer, k: k.pointer, v: v.pointer, keyMask: c.mask == nil ? nil : m.baseAddress,
                               out: out.pointer, probs: probs.pointer)
                }
            }
            func loss() -> Double { run(); return GradientCheck.dot(out, r) }
            run()
            let expected = reference(c, q: q, k: k, v: v)
            for i in 0..<out.count { XCTAssertEqual(out[i], expected[i], accuracy: 1e-12, "\(c) output \(i)") }

            let dq = Tensor<Double>(q.shape), dk = Tensor<Double>(k.shape), dv = Tensor<Double>(v.shape)
            op.backward(dOut: r.pointer, q: q.pointer, k: k.pointer, v: v.pointer, probs: probs.pointer,
                        dq: dq.pointer, dk: dk.pointer, dv: dv.pointer)
            for (name, analytic, input) in [("dq", dq, q), ("dk", dk, k), ("dv", dv, v)] {
                let numeric = GradientCheck.numerical(input, loss)
                let error = GradientCheck.relativeError(analytic.array, numeric)
                XCTAssertLessThan(error, 1e-4, "\(c) \(name): relative error \(error)")
            }
        }
    }

    func testFullyMaskedRowsAreZero() {
        let op = CausalAttention(batch: 1, queryLength: 3, keyLength: 3, queryHeads: 2, kvHeads: 1, headDim: 2)
        var rng = SplitMix64(seed: 12)
        let q = GradientCheck.random([1, 3, 2, 2], &rng), k = GradientCheck.random([1, 3, 1, 2], &rng), v = GradientCheck.random(k.shape, &rng)
        let out = Tensor<Double>(q.shape), probs = Tensor<Double>([op.probabilityCount])
        let mask: [UInt8] = [0, 0, 1]
        mask.withUnsafeBufferPointer { op.forward(q: q.pointer, k: k.pointer, v: v.pointer, keyMask: $0.baseAddress, out: out.pointer, probs: probs.pointer) }
        for i in 0..<8 { XCTAssertEqual(out[i], 0, "query rows 0 and 1 see only padding") }
        for h in 0..<2 { XCTAssertEqual(out[8 + h * 2], v[4], accuracy: 1e-12, "row 2 attends only to key 2") }
    }
}

extension AttentionTests {
    func testNaNScoresPropagate() {
        let op = CausalAttention(batch: 1, queryLength: 2, keyLength: 2, queryHeads: 1, kvHeads: 1, headDim: 2)
        let q = Tensor<Double>([1, 2, 1, 2], [1, .nan, 0.5, 0.5]), k = Tensor<Double>([1, 2, 1, 2], [1, 2, 3, 4])
        let out = Tensor<Double>(q.shape), probs = Tensor<Double>([op.probabilityCount])
        op.forward(q: q.pointer, k: k.pointer, v: k.pointer, keyMask: nil, out: out.pointer, probs: probs.pointer)
        XCTAssertTrue(out[0].isNaN && out[1].isNaN, "the NaN query's output is NaN")
        XCTAssertFalse(out[2].isNaN || out[3].isNaN, "other rows are unaffected")
    }
}
