/// Inverted dropout: each element is zeroed with probability p and the rest scaled by 1/(1−p).
///
/// The mask is a pure function of (seed, element index), so backward and a resumed run recreate
/// it exactly without storing it, and threads need no shared generator.
public struct Dropout {
    public var probability: Double
    public var seed: UInt64

    public init(probability: Double, seed: UInt64) {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1)")
        self.probability = probability; self.seed = seed
    }

    @inline(__always)
    func keeps(_ index: Int) -> Bool {
        var rng = SplitMix64(seed: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        return rng.nextDouble() >= probability
    }

    public func forward<T: Scalar>(_ x: UnsafePointer<T>, count: Int, into y: UnsafeMutablePointer<T>) {
        apply(x, count: count, into: y, accumulate: false)
    }

    /// dx += dy · mask / (1 − p).
    public func backward<T: Scalar>(_ dy: UnsafePointer<T>, count: Int, dx: UnsafeMutablePointer<T>) {
        apply(dy, count: count, into: dx, accumulate: true)
    }

    private func apply<T: Scalar>(_ x: UnsafePointer<T>, count: Int, into y: UnsafeMutablePointer<T>, accumulate: Bool) {
        let scale = T(1 / (1 - probability))
        if probability == 0 {
            for i in 0..<count { y[i] = accumulate ? y[i] + x[i] : x[i] }
            return
        }
        Parallel.forRanges(count, grain: 4096) { range in
            for i in range {
                let v = keeps(i) ? x[i] * scale : 0
                y[i] = accumulate ? y[i] + v : v
            }
        }
    }
}
