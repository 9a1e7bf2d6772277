import Foundation
import MedtuneCore

/// Forward-only kernels of a BERT encoder. Matrix products go through `Matmul`; everything runs
/// over rows in parallel.
enum EncoderKernels {
    /// y = x·Wᵀ + b for `rows` rows, W stored [out × in] as PyTorch's `Linear` stores it.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, weight: Tensor<Float>, bias: Tensor<Float>,
                       into y: UnsafeMutablePointer<Float>) {
        let out = weight.shape[0], inFeatures = weight.shape[1]
        Matmul.gemm(transB: true, m: rows, n: out, k: inFeatures, a: x, b: weight.pointer, c: y)
        let b = bias.pointer
        Parallel.forRanges(rows, grain: max(1, 16_384 / out)) { range in
            for r in range {
                let row = y + r * out
                for j in 0..<out { row[j] += b[j] }
            }
        }
    }

    /// x = LayerNorm(x + residual)·gain + bias per row (biased variance, as PyTorch), in place.
    /// Statistics are accumulated in double precision.
    static func addLayerNorm(_ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, rows: Int, width: Int,
                             gain: Tensor<Float>, bias: Tensor<Float>, eps: Double) {
        let g = gain.pointer, b = bias.pointer
        Parallel.forRanges(rows, grain: max(1, 16_384 / width)) { range in
            for r in range {
                let row = x + r * width
                if let residual {
                    let add = residual + r * width
                    for j in 0..<width { row[j] += add[j] }
                }
                var sum = 0.0
                for j in 0..<width { sum += Double(row[j]) }
                let mean = sum / Double(width)
                var squares = 0.0
                for j in 0..<width {
                    let d = Double(row[j]) - mean
                    squares += d * d
                }
                let inverse = 1 / (squares / Double(width) + eps).squareRoot()
                for j in 0..<width { row[j] = Float((Double(row[j]) - mean) * inverse) * g[j] + b[j] }
            }
        }
    }

    /// Exact GELU, x·Φ(x) = x/2·(1 + erf(x/√2)), in place (BERT's `hidden_act: "gelu"`).
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forRanges(count, grain: 16_384) { range in
            for i in range { x[i] = 0.5 * x[i] * (1 + Foundation.erf(x[i] * 0.70710678118654752)) }
        }
    }

    /// Bidirectional multi-head self-attention over ragged sequences: each sequence (rows
    /// `offsets[s]..<offsets[s+1]`) attends to all of its own tokens and to nothing else, which is
    /// what a padding mask achieves on a padded batch. `qkv` is `[rows × 3·hidden]` (queries, keys,
    /// values side by side); the context goes to `context` `[rows × hidden]`.
    ///
    /// The (sequence, head) products are small, so they run on all cores at once with OpenBLAS
    /// kept to one thread: its own threads would only contend with ours.
    static func attention(qkv: UnsafePointer<Float>, offsets: [Int], heads: Int, headDim: Int,
                          into context: UnsafeMutablePointer<Float>) {
        let hidden = heads * headDim, stride = 3 * hidden
        let scale = 1 / Float(headDim).squareRoot()
        let items = (0..<(offsets.count - 1) * heads).filter { offsets[$0 / heads + 1] > offsets[$0 / heads] }
        let longest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        SingleThreadedBLAS.run {
            Parallel.forRanges(items.count) { range in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: longest * longest)
                defer { scores.deallocate() }
                for item in items[range] {
                    let s = item / heads, h = item % heads
                    let start = offsets[s], length = offsets[s + 1] - start
                    let q = qkv + start * stride + h * headDim
                    Matmul.gemm(transB: true, m: length, n: length, k: headDim, alpha: scale, a: q, lda: stride,
                                b: q + hidden, ldb: stride, c: scores, ldc: length)
                    for i in 0..<length { softmax(scores + i * length, count: length) }
                    Matmul.gemm(m: length, n: headDim, k: length, a: scores, lda: length, b: q + 2 * hidden, ldb: stride,
                                c: context + start * hidden + h * headDim, ldc: hidden)
                }
            }
        }
    }

    /// Softmax of one row in place. Written so that the compiler vectorises every pass: the
    /// reductions run in sixteen lanes, the exponentials through the branch-free `exp` below.
    @inline(__always)
    static func softmax(_ row: UnsafeMutablePointer<Float>, count: Int) {
        let peak = reduce(row, count: count, initial: -.infinity) { pointwiseMax($0, $1) }.max()
        for j in 0..<count { row[j] = exp(row[j] - peak) }
        let inverse = 1 / reduce(row, count: count, initial: 0) { $0 + $1 }.sum()
        for j in 0..<count { row[j] *= inverse }
    }

    /// Folds `count` floats into sixteen lanes (the tail padded with `initial`).
    @inline(__always)
    static func reduce(_ x: UnsafePointer<Float>, count: Int, initial: Float,
                       _ combine: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>) -> SIMD16<Float> {
        var lanes = SIMD16<Float>(repeating: initial)
        var j = 0
        while j + 16 <= count {
            lanes = combine(lanes, UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self))
            j += 16
        }
        var tail = SIMD16<Float>(repeating: initial)
        for lane in 0..<(count - j) { tail[lane] = x[j + lane] }
        return combine(lanes, tail)
    }

    /// eˣ within 2 ulp for x ≤ 88.7 (Cephes `expf`: Cody–Waite reduction by ln 2, degree-5
    /// polynomial, 2ⁿ put into the exponent bits); 0 below −87.3, where float `exp` underflows.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let c = min(max(x, -87.33654), 88.72283)
        // Adding 1.5·2²³ rounds to an integer held in the low mantissa bits.
        let shifted = c * 1.44269504088896341 + 12_582_912
        let n = shifted - 12_582_912
        let r = c - n * 0.693359375 + n * 2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let e = p * (r * r) + r + 1
        let exponent = (Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000 &+ 127) &<< 23
        let scaled = e * Float(bitPattern: UInt32(bitPattern: exponent))
        return x < -87.33654 ? 0 : scaled
    }
}

/// Runs work with OpenBLAS limited to one thread, restoring its thread count after. For regions
/// that call many small products from all cores at once.
enum SingleThreadedBLAS {
    private static let lock = NSLock()

    static func run(_ body: () -> Void) {
        // Serialised, so overlapping regions cannot restore each other's setting wrongly.
        lock.lock()
        defer { lock.unlock() }
        let blas = OpenBLAS.shared
        let threads = blas.threads
        blas.threads = 1
        defer { blas.threads = threads }
        body()
    }
}
