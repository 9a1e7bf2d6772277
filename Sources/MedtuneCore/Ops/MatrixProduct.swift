/// C = op(A)·op(B) as a differentiable operation. Shapes are those of the product: op(A) is
/// m×k, op(B) is k×n; A and B are stored row-major and transposed when their flag says so.
public struct MatrixProduct {
    public var m: Int, n: Int, k: Int
    public var transA: Bool, transB: Bool

    public init(m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false) {
        self.m = m; self.n = n; self.k = k; self.transA = transA; self.transB = transB
    }

    /// c[m×n] = op(A)·op(B).
    public func forward<T: Scalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>) {
        Matmul.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, c: c)
    }

    /// Accumulates dA and dB (either may be nil when not needed) from dC.
    public func backward<T: Scalar>(_ dc: UnsafePointer<T>, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>,
                                    dA: UnsafeMutablePointer<T>?, dB: UnsafeMutablePointer<T>?) {
        if let dA {
            if transA {  // A is k×m: dA = op(B)·dCᵀ
                Matmul.gemm(transA: transB, transB: true, m: k, n: m, k: n, a: b, b: dc, beta: 1, c: dA)
            } else {     // dA = dC·op(B)ᵀ
                Matmul.gemm(transA: false, transB: !transB, m: m, n: k, k: n, a: dc, b: b, beta: 1, c: dA)
            }
        }
        if let dB {
            if transB {  // B is n×k: dB = dCᵀ·op(A)
                Matmul.gemm(transA: true, transB: transA, m: n, n: k, k: m, a: dc, b: a, beta: 1, c: dB)
            } else {     // dB = op(A)ᵀ·dC
                Matmul.gemm(transA: !transA, transB: false, m: k, n: n, k: m, a: a, b: dc, beta: 1, c: dB)
            }
        }
    }
}
