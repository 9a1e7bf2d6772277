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
    static func attention(qkv: UnsafePointer<Float>, offsets: [Int], heads: Int, headDim: Int,
                          into context: UnsafeMutablePointer<Float>) {
        let hidden = heads * headDim, stride = 3 * hidden
        let scale = 1 / Float(headDim).squareRoot()
        let sequences = offsets.count - 1
        Parallel.forEach(sequences * heads) { item in
            let s = item / heads, h = item % heads
            let start = offsets[s], length = offsets[s + 1] - start
            guard length > 0 else { return }
            let q = qkv + start * stride + h * headDim
            let k = q + hidden, v = q + 2 * hidden
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: length * length)
            defer { scores.deallocate() }
            Matmul.gemm(transB: true, m: length, n: length, k: headDim, alpha: scale, a: q, lda: stride,
                        b: k, ldb: stride, c: scores, ldc: length)
            for i in 0..<length {
                let row = scores + i * length
                var peak = -Float.infinity
                for j in 0..<length { peak = max(peak, row[j]) }
                var total: Float = 0
                for j in 0..<length {
                    row[j] = Foundation.exp(row[j] - peak)
                    total += row[j]
                }
                let inverse = 1 / total
                for j in 0..<length { row[j] *= inverse }
            }
            Matmul.gemm(m: length, n: headDim, k: length, a: scores, lda: length, b: v, ldb: stride,
                        c: context + start * hidden + h * headDim, ldc: hidden)
        }
    }
}
