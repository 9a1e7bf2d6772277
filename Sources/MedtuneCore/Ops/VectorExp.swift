/// eˣ for sixteen float32 lanes at once (Cephes' `expf`: x = n·ln 2 + r with |r| ≤ ln 2 / 2, a
/// degree-6 polynomial for eʳ, and 2ⁿ put straight into the exponent bits), within 2 ulp of the
/// C library's expf. For the exponentials of decoding's inner loops (the gated activation, the
/// attention softmax), which a scalar call per element would dominate.
///
/// Inputs are clamped to [−87.3, 88]: results stay normal and finite (about 1.2e-38 at the low
/// end, 1.7e38 at the high end), which the callers' sums and quotients absorb.
public enum VectorExp {
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        // clamped(lowerBound:upperBound:) without the standard library's lane-by-lane
        // minimum/maximum: a NaN (failing x ≥ −87.3) becomes −87.3 as maximum(−87.3, NaN) gives.
        var x = x
        x.replace(with: -87.3, where: .!(x .>= -87.3))
        x.replace(with: 88, where: x .> 88)
        let n = (x * 1.442_695_04 + 0.5).rounded(.down)
        // ln 2 in two parts, so that n·ln 2 is subtracted without rounding error.
        let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_1e-1
        let y = p * (r * r) + r + 1
        // n (integral, |n| < 2²²) added to 1.5·2²³ lands in the low mantissa bits as an integer.
        let integer = unsafeBitCast(n + 12_582_912, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let scale = (integer &+ 127) &<< 23
        return y * unsafeBitCast(scale, to: SIMD16<Float>.self)
    }
}
