import MedtuneCore

/// A trainable tensor and the gradient that backward accumulates for it.
public struct TrainableParameter<T: Scalar>: Sendable {
    public var name: String
    public var value: Tensor<T>
    public var grad: Tensor<T>

    public init(name: String, value: Tensor<T>, grad: Tensor<T>) {
        precondition(value.count == grad.count, "\(name): gradient of \(grad.count) for \(value.count) values")
        self.name = name; self.value = value; self.grad = grad
    }

    public func zeroGrad() { grad.fill(0) }
}

/// An optimiser with PyTorch's update rules; its per-parameter state is a set of named tensors
/// (`<parameter>.<slot>`) so that checkpoints can store and restore it exactly.
public protocol Optimizer<Element>: AnyObject {
    associatedtype Element: Scalar
    /// Updates every parameter from its gradient at the given learning rate.
    func step(_ parameters: [TrainableParameter<Element>], learningRate: Double)
    /// Steps taken so far (AdamW's bias correction depends on it).
    var steps: Int { get set }
    /// The optimiser's tensors, keyed `<parameter>.<slot>`.
    func stateTensors() -> [String: Tensor<Element>]
    /// Restores tensors written by `stateTensors` for these parameters.
    func restore(_ tensors: [String: [Element]], parameters: [TrainableParameter<Element>]) throws
}

/// torch.optim.AdamW: decoupled weight decay, then Adam with bias correction.
public final class AdamW<T: Scalar>: Optimizer {
    public let beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double
    public var steps = 0
    var expAvg: [String: Tensor<T>] = [:]
    var expAvgSq: [String: Tensor<T>] = [:]

    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public func step(_ parameters: [TrainableParameter<T>], learningRate lr: Double) {
        steps += 1
        let bc1 = 1 - Double.pow(beta1, Double(steps)), bc2Sqrt = (1 - Double.pow(beta2, Double(steps))).squareRoot()
        let decay = T(1 - lr * weightDecay), stepSize = T(lr / bc1)
        let b1Weight = T(1 - beta1), b2 = T(beta2), b2Weight = T(1 - beta2), eps = T(epsilon), bc2 = T(bc2Sqrt)
        // The state first (creating it mutates the tables), then every parameter in parallel:
        // one parallel region per step rather than one per tensor.
        let moments = parameters.map { (slot(&expAvg, $0), slot(&expAvgSq, $0)) }
        Parallel.forEach(parameters.count) { index in
            let p = parameters[index]
            let x = p.value.pointer, g = p.grad.pointer, mp = moments[index].0.pointer, vp = moments[index].1.pointer
            for i in 0..<p.value.count {
                x[i] *= decay
                mp[i] += b1Weight * (g[i] - mp[i])  // torch's lerp(m, g, 1 − β1)
                vp[i] = vp[i] * b2 + b2Weight * g[i] * g[i]
                x[i] -= stepSize * mp[i] / (vp[i].squareRoot() / bc2 + eps)
            }
        }
    }

    public func stateTensors() -> [String: Tensor<T>] {
        var state: [String: Tensor<T>] = [:]
        for (name, t) in expAvg { state[name + ".exp_avg"] = t }
        for (name, t) in expAvgSq { state[name + ".exp_avg_sq"] = t }
        return state
    }

    public func restore(_ tensors: [String: [T]], parameters: [TrainableParameter<T>]) throws {
        expAvg = try restoreSlot("exp_avg", tensors, parameters)
        expAvgSq = try restoreSlot("exp_avg_sq", tensors, parameters)
    }
}

/// torch.optim.SGD: weight decay added to the gradient, optional momentum (no dampening).
public final class SGD<T: Scalar>: Optimizer {
    public let momentum: Double, weightDecay: Double
    public var steps = 0
    var buffers: [String: Tensor<T>] = [:]

    public init(momentum: Double = 0, weightDecay: Double = 0) {
        self.momentum = momentum; self.weightDecay = weightDecay
    }

    public func step(_ parameters: [TrainableParameter<T>], learningRate lr: Double) {
        steps += 1
        let rate = T(lr), decay = T(weightDecay), mu = T(momentum)
        for p in parameters {
            // The buffer starts as the first gradient itself, as in PyTorch.
            let first = buffers[p.name] == nil
            let buffer = momentum > 0 ? slot(&buffers, p) : nil
            let x = p.value.pointer, g = p.grad.pointer, b = buffer?.pointer
            Parallel.forRanges(p.value.count, grain: 4096) { range in
                for i in range {
                    var d = g[i]
                    if decay != 0 { d += decay * x[i] }
                    if let b {
                        b[i] = first ? d : b[i] * mu + d
                        d = b[i]
                    }
                    x[i] -= rate * d
                }
            }
        }
    }

    public func stateTensors() -> [String: Tensor<T>] {
        Dictionary(uniqueKeysWithValues: buffers.map { ($0.key + ".momentum_buffer", $0.value) })
    }

    public func restore(_ tensors: [String: [T]], parameters: [TrainableParameter<T>]) throws {
        buffers = try restoreSlot("momentum_buffer", tensors, parameters)
    }
}

/// The state tensor of one parameter, created as zeros on first use.
private func slot<T>(_ table: inout [String: Tensor<T>], _ p: TrainableParameter<T>) -> Tensor<T> {
    if let t = table[p.name] { return t }
    let t = Tensor<T>(p.value.shape)
    table[p.name] = t
    return t
}

/// The saved state of a slot; a parameter without one starts from zeros (a checkpoint taken
/// before the first step has none).
private func restoreSlot<T>(_ slot: String, _ tensors: [String: [T]], _ parameters: [TrainableParameter<T>]) throws -> [String: Tensor<T>] {
    var table: [String: Tensor<T>] = [:]
    for p in parameters {
        let key = "\(p.name).\(slot)"
        guard let values = tensors[key] else { continue }
        guard values.count == p.value.count else {
            throw InputError(at: "tensor \(key)", "\(values.count) values for a parameter of \(p.value.count)")
        }
        table[p.name] = Tensor(p.value.shape, values)
    }
    return table
}
