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
