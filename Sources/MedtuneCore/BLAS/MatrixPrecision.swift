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
