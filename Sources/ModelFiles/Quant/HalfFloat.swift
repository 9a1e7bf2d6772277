/// IEEE half and bfloat16 conversions that behave the same on every platform and round exactly
/// as numpy and ggml do. Half to float goes through `Float16` where Swift has it (not on Intel
/// macOS, which gets the same conversion written out in bits).
public enum HalfFloat {
    /// binary16 → binary32, exact (subnormals, infinities and NaNs included).
    @inlinable @inline(__always)
    public static func float(fromHalf bits: UInt16) -> Float {
        #if !(os(macOS) && arch(x86_64))
        // One vcvtph2ps where the CPU has F16C; the same exact value either way.
        return Float(Float16(bitPattern: bits))
        #else
        let h = UInt32(bits)
        let sign = (h & 0x8000) << 16
        let magnitude = h & 0x7FFF
        let shifted = magnitude << 13
        // Rebiasing the exponent by 2^112 turns normals and subnormals alike into the right value.
        var value = Float(bitPattern: shifted) * 0x1p112
        if magnitude >= 0x7C00 { value = Float(bitPattern: shifted | 0x7F80_0000) }
        return Float(bitPattern: value.bitPattern | sign)
        #endif
    }

    /// binary32 → binary16, rounding to nearest even (as numpy's `astype(float16)`).
    public static func half(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {  // infinity or NaN (kept quiet)
            return sign | 0x7C00 | (magnitude > 0x7F80_0000 ? 0x0200 | UInt16((magnitude >> 13) & 0x3FF) : 0)
        }
        if magnitude >= 0x4780_0000 { return sign | 0x7C00 }  // ≥ 65520 rounds to infinity
        if magnitude < 0x3880_0000 {  // below the smallest normal half: subnormal or zero
            // Adding 0.5 lets the FPU's own round-to-nearest-even place the bits.
            let rounded = Float(bitPattern: magnitude) + 0.5
            return sign | UInt16(rounded.bitPattern - Float(0.5).bitPattern)
        }
        let mantissaOdd = (magnitude >> 13) & 1
        let rebased = magnitude &- (112 << 23) &+ 0xFFF &+ mantissaOdd
        return sign | UInt16(rebased >> 13)
    }

    /// bfloat16 → binary32: bfloat16 is the upper half of a binary32.
    @inlinable @inline(__always)
    public static func float(fromBFloat bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// binary32 → bfloat16, rounding to nearest even and quieting NaNs (as ggml and gguf-py).
    public static func bfloat(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(bits >> 16) | 0x0040 }
        return UInt16((UInt64(bits) + 0x7FFF + UInt64((bits >> 16) & 1)) >> 16)
    }
}
