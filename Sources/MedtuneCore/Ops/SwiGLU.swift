/// The gated activation of Qwen2's MLP: h = silu(gate) · up, with silu(g) = g·σ(g).
public enum SwiGLU {
    public static func forward<T: Scalar>(gate: UnsafePointer<T>, up: UnsafePointer<T>, count: Int, into h: UnsafeMutablePointer<T>) {
        Parallel.forRanges(count, grain: 4096) { range in
            for i in range {
                let g = gate[i]
                h[i] = g / (1 + T.exp(-g)) * up[i]
            }
        }
    }

    /// dGate += …, dUp += ….
    public static func backward<T: Scalar>(_ dh: UnsafePointer<T>, gate: UnsafePointer<T>, up: UnsafePointer<T>, count: Int,
                                           dGate: UnsafeMutablePointer<T>, dUp: UnsafeMutablePointer<T>) {
        Parallel.forRanges(count, grain: 4096) { range in
            for i in range {
                let g = gate[i], sigma = 1 / (1 + T.exp(-g))
                dUp[i] += dh[i] * g * sigma
                dGate[i] += dh[i] * up[i] * sigma * (1 + g * (1 - sigma))
            }
        }
    }
}

extension SwiGLU {
    /// `forward` for float32, sixteen lanes at a time through `VectorExp` (decoding's gated
    /// activation); within a few ulps of `forward`.
    public static func forwardFloat(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
                                    into h: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 16 <= count {
            let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD16<Float>.self)
            let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(h + i).storeBytes(of: g / (1 + VectorExp.exp(-g)) * u, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            h[i] = gate[i] / (1 + Float.exp(-gate[i])) * up[i]
            i += 1
        }
    }
}
