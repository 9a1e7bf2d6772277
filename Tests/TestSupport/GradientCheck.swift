import MedtuneCore

/// Central finite differences in float64, the ground truth for every backward pass.
public enum GradientCheck {
    /// ∂f/∂x by central differences, one element at a time.
    public static func numerical(_ x: Tensor<Double>, step: Double = 1e-6, _ f: () -> Double) -> [Double] {
        var gradient = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let saved = x[i]
            x[i] = saved + step
            let plus = f()
            x[i] = saved - step
            let minus = f()
            x[i] = saved
            gradient[i] = (plus - minus) / (2 * step)
        }
        return gradient
    }

    /// ‖a − b‖ / max(‖a‖, ‖b‖): zero for identical vectors, scale-free otherwise.
    public static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        var diff = 0.0, na = 0.0, nb = 0.0
        for i in a.indices {
            diff += (a[i] - b[i]) * (a[i] - b[i])
            na += a[i] * a[i]
            nb += b[i] * b[i]
        }
        let scale = max(na.squareRoot(), nb.squareRoot())
        return scale == 0 ? 0 : diff.squareRoot() / scale
    }

    /// ⟨out, weights⟩: a scalar loss whose gradient with respect to `out` is `weights`.
    public static func dot(_ out: Tensor<Double>, _ weights: Tensor<Double>) -> Double {
        var sum = 0.0
        for i in 0..<out.count { sum += out[i] * weights[i] }
        return sum
    }

    /// A tensor of uniform values in [−scale, scale).
    public static func random(_ shape: [Int], _ rng: inout SplitMix64, scale: Double = 1) -> Tensor<Double> {
        let t = Tensor<Double>(shape)
        for i in 0..<t.count { t[i] = (rng.nextDouble() * 2 - 1) * scale }
        return t
    }
}
