import Foundation
import MedtuneCore

/// Forward-only kernels of a BERT encoder, each on one thread: the encoder runs several passes
/// at once (see `BERTModel.hiddenStates`). Matrix products go through `Matmul`.
enum EncoderKernels {
    /// y = x·Wᵀ + b for `rows` rows, W stored [out × in] as PyTorch's `Linear` stores it.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, weight: Tensor<Float>, bias: Tensor<Float>,
                       into y: UnsafeMutablePointer<Float>) {
        let out = weight.shape[0], inFeatures = weight.shape[1]
        Matmul.gemm(transB: true, m: rows, n: out, k: inFeatures, a: x, b: weight.pointer, c: y)
        let b = bias.pointer
        for r in 0..<rows {
            let row = y + r * out
            for j in 0..<out { row[j] += b[j] }
        }
    }

    /// x = LayerNorm(x + residual)·gain + bias per row (biased variance, as PyTorch), in place.
    /// Statistics are accumulated in double precision.
    static func addLayerNorm(_ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, rows: Int, width: Int,
                             gain: Tensor<Float>, bias: Tensor<Float>, eps: Double) {
        let g = gain.pointer, b = bias.pointer
        for r in 0..<rows {
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

    /// GELU with erf, x·Φ(x) = x/2·(1 + erf(x/√2)), in place (BERT's `hidden_act: "gelu"`, not
    /// the tanh approximation).
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        forEachBlock(x, count: count) { v in 0.5 * v * (1 + erf(v * 0.70710678118654752)) }
    }

    /// Bidirectional multi-head self-attention over ragged sequences: each sequence (rows
    /// `offsets[s]..<offsets[s+1]`) attends to all of its own tokens and to nothing else, which is
    /// what a padding mask achieves on a padded batch. `qkv` is `[rows × 3·hidden]` (queries, keys,
    /// values side by side); the context goes to `context` `[rows × hidden]`.
    static func attention(qkv: UnsafePointer<Float>, offsets: [Int], heads: Int, headDim: Int,
                          into context: UnsafeMutablePointer<Float>) {
        let hidden = heads * headDim, stride = 3 * hidden
        let scale = 1 / Float(headDim).squareRoot()
        let longest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(longest * longest, 1))
        defer { scores.deallocate() }
        for s in 0..<(offsets.count - 1) {
            let start = offsets[s], length = offsets[s + 1] - start
            guard length > 0 else { continue }
            for h in 0..<heads {
                let q = qkv + start * stride + h * headDim
                Matmul.gemm(transB: true, m: length, n: length, k: headDim, alpha: scale, a: q, lda: stride,
                            b: q + hidden, ldb: stride, c: scores, ldc: length)
                for i in 0..<length { Softmax.vectorized(scores + i * length, count: length) }
                Matmul.gemm(m: length, n: headDim, k: length, a: scores, lda: length, b: q + 2 * hidden, ldb: stride,
                            c: context + start * hidden + h * headDim, ldc: hidden)
            }
        }
    }

    /// Replaces `x` sixteen floats at a time by what `transform` returns. The tail block is padded
    /// with zeros; only its real lanes are written back.
    @inline(__always)
    static func forEachBlock(_ x: UnsafeMutablePointer<Float>, count: Int, _ transform: (SIMD16<Float>) -> SIMD16<Float>) {
        var j = 0
        while j + 16 <= count {
            let out = transform(UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self))
            UnsafeMutableRawPointer(x + j).storeBytes(of: out, as: SIMD16<Float>.self)
            j += 16
        }
        guard j < count else { return }
        let bytes = (count - j) * MemoryLayout<Float>.stride
        var tail = SIMD16<Float>()
        withUnsafeMutableBytes(of: &tail) { $0.copyMemory(from: UnsafeRawBufferPointer(start: x + j, count: bytes)) }
        var out = transform(tail)
        withUnsafeBytes(of: &out) { UnsafeMutableRawPointer(x + j).copyMemory(from: $0.baseAddress!, byteCount: bytes) }
    }

    /// Lane-wise maximum and minimum, written lane by lane so that the compiler turns them into
    /// one compare-and-blend: the standard library's `pointwiseMax` and SIMD comparisons stay
    /// scalar loops. No NaN reaches these.
    @inline(__always)
    static func maximum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        var r = a
        for k in 0..<16 { r[k] = b[k] > a[k] ? b[k] : a[k] }
        return r
    }

    @inline(__always)
    static func minimum(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        var r = a
        for k in 0..<16 { r[k] = b[k] < a[k] ? b[k] : a[k] }
        return r
    }

    /// erf per lane, within a few ulp near 0 and 5·10⁻⁷ near ±1: the odd/even rational
    /// approximation on [−4, 4] that Eigen uses for float (beyond 4, erf is ±1 in float).
    @inline(__always)
    static func erf(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let c = minimum(maximum(x, SIMD16(repeating: -4)), SIMD16(repeating: 4))
        let x2 = c * c
        var p = SIMD16<Float>(repeating: -2.72614225801306e-10)
        p = p * x2 + 2.77068142495902e-08
        p = p * x2 - 2.10102402082508e-06
        p = p * x2 - 5.69250639462346e-05
        p = p * x2 - 7.34990630326855e-04
        p = p * x2 - 2.95459980854025e-03
        p = p * x2 - 1.60960333262415e-02
        var q = SIMD16<Float>(repeating: -1.45660718464996e-05)
        q = q * x2 - 2.13374055278905e-04
        q = q * x2 - 1.68282697438203e-03
        q = q * x2 - 7.37332916720468e-03
        q = q * x2 - 1.42647390514189e-02
        return c * p / q
    }
}
