import MedtuneCore

/// What one LoRALinear forward keeps for its backward.
public struct LoRASaved<T: Scalar> {
    /// dropout(x) when dropout is active (else backward reuses x itself): [rows × in].
    var dropped: Tensor<T>?
    /// dropout(x)·Aᵀ: [rows × rank].
    var projected: Tensor<T>
    var dropout: Dropout?
}

/// A frozen projection (any storage) with an optional bias and an optional LoRA adapter that each
/// call may switch on or off, so one loaded model answers both as the base and as the tuned model.
public final class LoRALinear<T: Scalar>: @unchecked Sendable {
    public let base: LinearMap
    public let bias: Tensor<T>?
    /// Set through the model's `attach`.
    public internal(set) var adapter: LoRAAdapter<T>?

    public init(base: LinearMap, bias: Tensor<T>? = nil, adapter: LoRAAdapter<T>? = nil) {
        if let bias { precondition(bias.count == base.outFeatures, "bias of \(bias.count) for \(base.outFeatures) outputs") }
        self.base = base; self.bias = bias; self.adapter = adapter
    }

    public var inFeatures: Int { base.inFeatures }
    public var outFeatures: Int { base.outFeatures }

    /// y[rows × out] = x·Wᵀ + bias (+ the adapter's update when `useAdapter`).
    /// `dropoutSeed` turns LoRA dropout on (training); the result keeps what backward needs.
    /// `precision` is that of the product with the frozen weight; the adapter's are float32.
    @discardableResult
    public func forward(_ x: UnsafePointer<T>, rows: Int, into y: UnsafeMutablePointer<T>,
                        useAdapter: Bool, dropoutSeed: UInt64? = nil, precision: MatrixPrecision = .float32) -> LoRASaved<T>? {
        base.forward(x, rows: rows, into: y, precision: precision)
        return addBiasAndAdapter(x, rows: rows, into: y, useAdapter: useAdapter, dropoutSeed: dropoutSeed)
    }

    /// The rest of `forward` once y holds (or has had added to it) x·Wᵀ: the bias and the
    /// adapter's update are added to y, so callers may compute the frozen product themselves.
    func addBiasAndAdapter(_ x: UnsafePointer<T>, rows: Int, into y: UnsafeMutablePointer<T>,
                           useAdapter: Bool, dropoutSeed: UInt64? = nil) -> LoRASaved<T>? {
        if let bias {
            let out = outFeatures
            Parallel.forEach(rows, grain: 16) { r in
                let row = y + r * out
                for j in 0..<out { row[j] += bias[j] }
            }
        }
        guard useAdapter, let adapter else { return nil }
        var input = x
        var dropped: Tensor<T>?
        var dropout: Dropout?
        if let dropoutSeed, adapter.dropout > 0 {
            let op = Dropout(probability: adapter.dropout, seed: dropoutSeed)
            let buffer = Tensor<T>([rows, inFeatures])
            op.forward(x, count: rows * inFeatures, into: buffer.pointer)
            input = UnsafePointer(buffer.pointer)
            dropped = buffer
            dropout = op
        }
        let projected = Tensor<T>([rows, adapter.rank])
        Matmul.gemm(transB: true, m: rows, n: adapter.rank, k: inFeatures, a: input, b: adapter.a.pointer, c: projected.pointer)
        Matmul.gemm(transB: true, m: rows, n: outFeatures, k: adapter.rank, alpha: T(adapter.scale),
                    a: projected.pointer, b: adapter.b.pointer, beta: 1, c: y)
        return LoRASaved(dropped: dropped, projected: projected, dropout: dropout)
    }

    /// dx += ∂/∂x; the adapter's gradA and gradB accumulate. The frozen weight and bias get none.
    /// `saved` is what forward returned (nil when the adapter was off); `precision` as in forward.
    public func backward(_ dy: UnsafePointer<T>, x: UnsafePointer<T>, rows: Int, saved: LoRASaved<T>?,
                         dx: UnsafeMutablePointer<T>, precision: MatrixPrecision = .float32) {
        base.backward(dy, rows: rows, accumulatingInto: dx, precision: precision)
        guard let saved, let adapter else { return }
        let scale = T(adapter.scale), rank = adapter.rank
        let input = saved.dropped.map { UnsafePointer($0.pointer) } ?? x
        // gradB += scale · dyᵀ · (x·Aᵀ)
        Matmul.gemm(transA: true, m: outFeatures, n: rank, k: rows, alpha: scale,
                    a: dy, b: saved.projected.pointer, beta: 1, c: adapter.gradB.pointer)
        // dProjected = scale · dy · B
        let dProjected = Tensor<T>([rows, rank])
        Matmul.gemm(m: rows, n: rank, k: outFeatures, alpha: scale, a: dy, b: adapter.b.pointer, c: dProjected.pointer)
        // gradA += dProjectedᵀ · dropout(x)
        Matmul.gemm(transA: true, m: rank, n: inFeatures, k: rows, a: dProjected.pointer, b: input, beta: 1, c: adapter.gradA.pointer)
        // dx += dropoutᵀ(dProjected · A)
        if let dropout = saved.dropout {
            let dDropped = Tensor<T>([rows, inFeatures])
            Matmul.gemm(m: rows, n: inFeatures, k: rank, a: dProjected.pointer, b: adapter.a.pointer, c: dDropped.pointer)
            dropout.backward(dDropped.pointer, count: rows * inFeatures, dx: dx)
        } else {
            Matmul.gemm(m: rows, n: inFeatures, k: rank, a: dProjected.pointer, b: adapter.a.pointer, beta: 1, c: dx)
        }
    }
}
