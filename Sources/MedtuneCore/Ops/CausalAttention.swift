/// Causal scaled-dot-product attention with grouped-query heads and a key padding mask.
///
/// Layouts (row-major): queries q and output [batch × queryLength × queryHeads × headDim];
/// keys and values [batch × keyCapacity × kvHeads × headDim], of which the first keyLength
/// positions are used. Queries are the last queryLength of the keyLength positions, so the same
/// code serves training (queryLength == keyLength) and cached decoding (queryLength == 1).
/// Query head h reads key/value head h / (queryHeads / kvHeads), as Qwen2 repeats KV heads.
/// A query whose every key is masked (left padding) gets a zero output and no gradient.
public struct CausalAttention {
    public var batch: Int
    public var queryLength: Int
    public var keyLength: Int
    public var queryHeads: Int
    public var kvHeads: Int
    public var headDim: Int
    /// Positions allocated per batch row in k and v (≥ keyLength); the KV cache's capacity.
    public var keyCapacity: Int

    public init(batch: Int, queryLength: Int, keyLength: Int, queryHeads: Int, kvHeads: Int, headDim: Int, keyCapacity: Int? = nil) {
        precondition(queryHeads % kvHeads == 0, "query heads (\(queryHeads)) must be a multiple of KV heads (\(kvHeads))")
        precondition(queryLength <= keyLength, "more queries than keys")
        self.batch = batch; self.queryLength = queryLength; self.keyLength = keyLength
        self.queryHeads = queryHeads; self.kvHeads = kvHeads; self.headDim = headDim
        self.keyCapacity = keyCapacity ?? keyLength
    }

    /// Number of scalars in the saved attention probabilities [batch × queryHeads × queryLength × keyLength].
    public var probabilityCount: Int { batch * queryHeads * queryLength * keyLength }

    private var qStride: Int { queryHeads * headDim }
    private var kvStride: Int { kvHeads * headDim }
    private var group: Int { queryHeads / kvHeads }

    @inline(__always) private func qOffset(_ b: Int, _ h: Int) -> Int { b * queryLength * qStride + h * headDim }
    @inline(__always) private func kvOffset(_ b: Int, _ h: Int) -> Int { b * keyCapacity * kvStride + (h / group) * headDim }
    @inline(__always) private func pOffset(_ b: Int, _ h: Int) -> Int { (b * queryHeads + h) * queryLength * keyLength }

    /// keyMask: [batch × keyLength], non-zero where a key is real; nil when nothing is padded.
    public func forward<T: Scalar>(q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>,
                                   keyMask: UnsafePointer<UInt8>?,
                                   out: UnsafeMutablePointer<T>, probs: UnsafeMutablePointer<T>) {
        let scale = 1 / T(headDim).squareRoot()
        for b in 0..<batch {
            for h in 0..<queryHeads {
                Matmul.gemm(transB: true, m: queryLength, n: keyLength, k: headDim, alpha: scale,
                            a: q + qOffset(b, h), lda: qStride, b: k + kvOffset(b, h), ldb: kvStride,
                            c: probs + pOffset(b, h), ldc: keyLength)
            }
        }
        Parallel.forEach(batch * queryHeads * queryLength, grain: 8) { row in
            let b = row / (queryHeads * queryLength), t = row % queryLength
            softmaxRow(probs + row * keyLength, visible: keyLength - queryLength + t + 1,
                       mask: keyMask.map { $0 + b * keyLength })
        }
        for b in 0..<batch {
            for h in 0..<queryHeads {
                Matmul.gemm(m: queryLength, n: headDim, k: keyLength,
                            a: probs + pOffset(b, h), lda: keyLength, b: v + kvOffset(b, h), ldb: kvStride,
                            c: out + qOffset(b, h), ldc: qStride)
            }
        }
    }

    /// Softmax over the first `visible` entries of a row, skipping masked keys; the rest become 0.
    private func softmaxRow<T: Scalar>(_ row: UnsafeMutablePointer<T>, visible: Int, mask: UnsafePointer<UInt8>?) {
        Softmax.exact(row, count: visible, mask: mask)
        (row + visible).update(repeating: 0, count: keyLength - visible)
    }

    /// Accumulates dq, dk, dv from dOut, using the probabilities saved by forward.
    public func backward<T: Scalar>(dOut: UnsafePointer<T>, q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>,
                                    probs: UnsafePointer<T>,
                                    dq: UnsafeMutablePointer<T>, dk: UnsafeMutablePointer<T>, dv: UnsafeMutablePointer<T>) {
        let scale = 1 / T(headDim).squareRoot()
        let dScores = Tensor<T>([queryLength, keyLength])
        let ds = dScores.pointer
        for b in 0..<batch {
            for h in 0..<queryHeads {
                let p = probs + pOffset(b, h)
                // dP = dO·Vᵀ
                Matmul.gemm(transB: true, m: queryLength, n: keyLength, k: headDim,
                            a: dOut + qOffset(b, h), lda: qStride, b: v + kvOffset(b, h), ldb: kvStride,
                            c: ds, ldc: keyLength)
                // dS = P ⊙ (dP − ⟨dP, P⟩ per row)
                Parallel.forEach(queryLength, grain: 16) { t in
                    let pr = p + t * keyLength, dr = ds + t * keyLength
                    var dot: T = 0
                    for s in 0..<keyLength { dot += pr[s] * dr[s] }
                    for s in 0..<keyLength { dr[s] = pr[s] * (dr[s] - dot) }
                }
                Matmul.gemm(m: queryLength, n: headDim, k: keyLength, alpha: scale,
                            a: ds, lda: keyLength, b: k + kvOffset(b, h), ldb: kvStride,
                            beta: 1, c: dq + qOffset(b, h), ldc: qStride)
                Matmul.gemm(transA: true, m: keyLength, n: headDim, k: queryLength, alpha: scale,
                            a: ds, lda: keyLength, b: q + qOffset(b, h), ldb: qStride,
                            beta: 1, c: dk + kvOffset(b, h), ldc: kvStride)
                Matmul.gemm(transA: true, m: keyLength, n: headDim, k: queryLength,
                            a: p, lda: keyLength, b: dOut + qOffset(b, h), ldb: qStride,
                            beta: 1, c: dv + kvOffset(b, h), ldc: kvStride)
            }
        }
    }
}
