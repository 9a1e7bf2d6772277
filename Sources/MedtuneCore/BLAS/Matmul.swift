/// The one door to matrix products. Every matrix product in medtune goes through here, so that a
/// faster kernel can replace BLAS where it pays: float32 products asked for in bfloat16 run on
/// medtune's AVX-512 BF16 kernel, everything else on OpenBLAS.
///
/// All matrices are row-major. `op(X)` is `X` or its transpose.
public enum Matmul {
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C.
    /// `lda`, `ldb`, `ldc` are row strides of A, B, C as stored (before any transpose).
    /// `precision` applies to Float (bfloat16 needs `MatrixPrecision.bfloat16.isSupported`; q8
    /// concerns weights stored in blocks, so float operands multiply in float32 under it);
    /// Double is always multiplied in float64.
    @inlinable
    public static func gemm<T: Scalar>(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                                       alpha: T = 1, a: UnsafePointer<T>, lda: Int? = nil,
                                       b: UnsafePointer<T>, ldb: Int? = nil,
                                       beta: T = 0, c: UnsafeMutablePointer<T>, ldc: Int? = nil,
                                       precision: MatrixPrecision = .float32) {
        if m == 0 || n == 0 { return }
        let lda = lda ?? (transA ? m : k), ldb = ldb ?? (transB ? k : n), ldc = ldc ?? n
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if precision == .bfloat16, T.self == Float.self {
            func float(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            BFloat16GEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: Float(alpha), a: float(a), lda: lda,
                              b: float(b), ldb: ldb, beta: Float(beta), c: UnsafeMutableRawPointer(c).assumingMemoryBound(to: Float.self), ldc: ldc)
            return
        }
        T.blasGEMM(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c, ldc: ldc)
    }

    /// y[m] = alpha · op(A) · x + beta · y, where A is stored as rows×cols and op(A) has m rows.
    @inlinable
    public static func gemv<T: Scalar>(transA: Bool = false, rows: Int, cols: Int, alpha: T = 1,
                                       a: UnsafePointer<T>, lda: Int? = nil, x: UnsafePointer<T>,
                                       beta: T = 0, y: UnsafeMutablePointer<T>) {
        if rows == 0 || cols == 0 { return }
        T.blasGEMV(transA: transA, m: rows, n: cols, alpha: alpha, a: a, lda: lda ?? cols, x: x, beta: beta, y: y)
    }
}
