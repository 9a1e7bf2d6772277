/// Rotary position embedding in the "rotate half" (GPT-NeoX) form used by Qwen2: element j of a
/// head is paired with element j + headDim/2 and the pair is rotated by pos·theta^(−2j/headDim).
public struct RotaryEmbedding {
    public var headDim: Int
    public var theta: Double

    public init(headDim: Int, theta: Double) {
        precondition(headDim % 2 == 0, "rotary embedding needs an even head dimension")
        self.headDim = headDim; self.theta = theta
    }

    /// theta^(−2j/headDim) for j < headDim/2, in float32 as the reference implementation computes
    /// them, so that angles (position × frequency, one float32 product) at large positions agree.
    public var inverseFrequencies: [Float] {
        (0..<headDim / 2).map { j in Float(1) / Float.pow(Float(theta), Float(2 * j) / Float(headDim)) }
    }

    /// cos and sin of each position's angles: [positions.count × headDim/2] each.
    public func table<T: Scalar>(positions: [Int]) -> (cos: [T], sin: [T]) {
        let half = headDim / 2
        let inverse = inverseFrequencies
        var cos = [T](repeating: 0, count: positions.count * half), sin = cos
        for (p, pos) in positions.enumerated() {
            for j in 0..<half {
                let angle = Float(pos) * inverse[j]
                cos[p * half + j] = T(Float.cos(angle))
                sin[p * half + j] = T(Float.sin(angle))
            }
        }
        return (cos, sin)
    }

    /// Rotates x[tokens × heads × headDim] in place; token i uses row i of the table.
    public func forward<T: Scalar>(_ x: UnsafeMutablePointer<T>, tokens: Int, heads: Int, cos: [T], sin: [T]) {
        rotate(x, tokens: tokens, heads: heads, cos: cos, sin: sin, direction: 1)
    }

    /// Gradient of the rotation: the inverse rotation, in place on dx[tokens × heads × headDim].
    public func backward<T: Scalar>(_ dx: UnsafeMutablePointer<T>, tokens: Int, heads: Int, cos: [T], sin: [T]) {
        rotate(dx, tokens: tokens, heads: heads, cos: cos, sin: sin, direction: -1)
    }

    private func rotate<T: Scalar>(_ x: UnsafeMutablePointer<T>, tokens: Int, heads: Int, cos: [T], sin: [T], direction: T) {
        let half = headDim / 2
        precondition(cos.count >= tokens * half && sin.count >= tokens * half, "rotary table too short")
        cos.withUnsafeBufferPointer { cosTable in
            sin.withUnsafeBufferPointer { sinTable in
                Parallel.forEach(tokens, grain: 4) { t in
                    let c = cosTable.baseAddress! + t * half, s = sinTable.baseAddress! + t * half
                    for h in 0..<heads {
                        let v = x + (t * heads + h) * headDim
                        for j in 0..<half {
                            let x1 = v[j], x2 = v[j + half], sj = direction * s[j]
                            v[j] = x1 * c[j] - x2 * sj
                            v[j + half] = x2 * c[j] + x1 * sj
                        }
                    }
                }
            }
        }
    }
}
