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
            for p in parameters {
                let g = p.grad.pointer
                for i in 0..<p.grad.count { g[i] *= scale }
            }
        }
        return norm
    }

    public static func globalNorm<T: Scalar>(_ parameters: [TrainableParameter<T>]) -> Double {
        var sum = 0.0
        for p in parameters {
            let g = p.grad.pointer
            for i in 0..<p.grad.count { sum += Double(g[i]) * Double(g[i]) }
        }
        return sum.squareRoot()
    }
}
