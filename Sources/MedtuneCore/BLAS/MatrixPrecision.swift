import CKernels

/// The arithmetic a float32 matrix product is carried out in.
public enum MatrixPrecision: String, Sendable, CaseIterable {
    /// float32 products and sums: OpenBLAS sgemm.
    case float32
    /// Entries rounded to bfloat16 (8 significant bits, as PyTorch rounds them), products summed
    /// in float32: medtune's AVX-512 BF16 kernel, twice the multiply-adds per instruction of
    /// float32. What PyTorch's CPU autocast does for matrix products.
    case bfloat16

    /// Whether this machine can compute in this precision.
    public var isSupported: Bool {
        switch self {
        case .float32: return true
        case .bfloat16: return medtune_bf16_gemm_supported() != 0
        }
    }

    /// The fastest precision this machine supports: bfloat16 where the CPU has AVX-512 BF16.
    public static var fastest: MatrixPrecision { bfloat16.isSupported ? .bfloat16 : .float32 }
}

/// Bits and value of float32 numbers rounded to bfloat16, as `MatrixPrecision.bfloat16` rounds
/// matrix entries.
public enum BFloat16 {
    /// The bfloat16 nearest to x (ties to even) as its 16 bits; NaN becomes 0xFFFF (as PyTorch).
    @inlinable public static func bits(_ x: Float) -> UInt16 { medtune_bf16_bits(x) }
    /// x rounded to bfloat16, as a Float (exact).
    @inlinable public static func rounded(_ x: Float) -> Float { medtune_bf16_value(medtune_bf16_bits(x)) }
}

/// The float32 product in `MatrixPrecision.bfloat16`, split over the cores: each part is one
/// call of the single-threaded C kernel on a band of C's rows or columns.
@usableFromInline
enum BFloat16GEMM {
    /// Below this many multiply-adds a product runs on the calling thread: handing a part to
    /// another core costs more than it saves.
    static let parallelThreshold = 1 << 21

    @usableFromInline
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(MatrixPrecision.bfloat16.isSupported, "a bfloat16 product on a CPU without AVX-512 BF16")
        // Each part packs its share of one operand and all of the other; splitting the longer of
        // C's sides repeats the packing of the smaller operand.
        let splitColumns = n >= m
        let tile = splitColumns ? Int(MEDTUNE_BF16_TILE_COLUMNS) : Int(MEDTUNE_BF16_TILE_ROWS)
        let tiles = ((splitColumns ? n : m) + tile - 1) / tile
        let parts = m * n * k < parallelThreshold ? 1 : min(Parallel.threads, tiles)
        Parallel.forEach(parts) { part in
            let first = tiles * part / parts * tile, end = min(tiles * (part + 1) / parts * tile, splitColumns ? n : m)
            guard first < end else { return }
            let status: Int32
            if splitColumns {
                status = medtune_bf16_gemm(transA ? 1 : 0, transB ? 1 : 0, m, end - first, k, alpha, a, lda,
                                           b + (transB ? first * ldb : first), ldb, beta, c + first, ldc)
            } else {
                status = medtune_bf16_gemm(transA ? 1 : 0, transB ? 1 : 0, end - first, n, k, alpha,
                                           a + (transA ? first : first * lda), lda, b, ldb, beta, c + first * ldc, ldc)
            }
            precondition(status == 0, "bfloat16 product: out of memory for packing")
        }
    }
}
