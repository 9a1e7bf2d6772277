import CKernels

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
