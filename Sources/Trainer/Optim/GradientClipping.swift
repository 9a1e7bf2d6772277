import MedtuneCore

/// torch.nn.utils.clip_grad_norm_: the global L2 norm of all gradients, and when it exceeds
/// `maxNorm`, every gradient scaled by maxNorm / (norm + 1e-6).
public enum GradientClipping {
    /// The norm before clipping (non-finite when any gradient is). maxNorm 0 only measures.
    @discardableResult
    public static func clip<T: Scalar>(_ parameters: [TrainableParameter<T>], maxNorm: Double) -> Double {
        let norm = globalNorm(parameters)
        guard maxNorm > 0, norm.isFinite else { return norm }
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 {
            let scale = T(coefficient)
            Parallel.forEach(parameters.count, grain: 1) { index in
                let g = parameters[index].grad.pointer
                for i in 0..<parameters[index].grad.count { g[i] *= scale }
            }
        }
        return norm
    }

    /// Each parameter's sum of squares in float64, the parameters in parallel, then their sum in
    /// order: the same norm whatever the number of threads.
    public static func globalNorm<T: Scalar>(_ parameters: [TrainableParameter<T>]) -> Double {
        var sums = [Double](repeating: 0, count: parameters.count)
        sums.withUnsafeMutableBufferPointer { sums in
            let partial = sums.baseAddress!
            Parallel.forEach(parameters.count, grain: 1) { index in
                let g = parameters[index].grad.pointer
                var sum = 0.0
                for i in 0..<parameters[index].grad.count { sum += Double(g[i]) * Double(g[i]) }
                partial[index] = sum
            }
        }
        return sums.reduce(0, +).squareRoot()
    }
}
