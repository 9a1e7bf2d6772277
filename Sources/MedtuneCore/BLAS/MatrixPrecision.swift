import CKernels

/// The arithmetic a float32 matrix product is carried out in.
public enum MatrixPrecision: String, Sendable, CaseIterable {
    /// float32 products and sums: OpenBLAS sgemm.
    case float32
    /// Entries rounded to bfloat16 (8 significant bits, as PyTorch rounds them), products summed
    /// in float32: medtune's AVX-512 BF16 kernel, twice the multiply-adds per instruction of
    /// float32. What PyTorch's CPU autocast does for matrix products.
    case bfloat16
    /// For products with weights stored in GGML blocks (Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K):
    /// the float32 input rows quantized to 8 bits in blocks of 32 or 256, one float scale each,
    /// and multiplied with the stored quants in integers (AVX-512 VNNI or AVX2 where present),
    /// as llama.cpp's CPU backend computes them. A quarter of the input bytes and no decoding to
    /// float: token-by-token decoding runs at the speed of reading the weights. Products with
    /// weights stored as floats, and the transposed products of backward passes, stay float32.
    case q8

    /// Whether this machine can compute in this precision.
    public var isSupported: Bool {
        switch self {
        case .float32, .q8: return true
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
