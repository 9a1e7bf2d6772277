import Bench
import CUDA
import CUDATransformer
import MedtuneCore
import Trainer
import Transformer

/// `bench gpu --train-check`: the GPU training pass (`CUDAQwen2Trainer`) against the CPU one
/// (`Qwen2Model`, whose gradients the test suite checks against PyTorch and finite
/// differences). A small random model with random adapters on all seven projections (dropout
/// on) runs one micro-batch with padding and unlabelled positions on both:
/// - float32 storage: the loss and every adapter gradient tensor agree, max |Δ| within
///   `gradientTolerance` of the tensor's largest entry;
/// - gradient checkpointing gives the same gradients bit for bit, and the validation pass the
///   CPU's validation loss;
/// - bfloat16 storage: the loss within `bf16LossTolerance`, each gradient tensor pointing the
///   CPU's way (cosine ≥ `bf16Cosine`);
/// - AdamW steps on the batch lower the loss on the GPU as on the CPU (curves side by side).
struct GPUTrainingCheck {
    let device: CUDADevice
    let nvrtc: NVRTC
    let cache: KernelCache
    let blas: CuBLASLt.Session
    var failures: [String] = []

    static let lossTolerance = 1e-4, gradientTolerance = 1e-3
    static let bf16LossTolerance = 1e-2, bf16Cosine = 0.99
    static let adamSteps = 50

    typealias Gradients = (loss: Double, grads: [(name: String, values: [Float])])

    mutating func run() throws {
        let shape = GPUModelCheck.smallShape
        let cpu = try TrainingStepBenchmark.randomModel(shape, storage: .bf16, seed: 7)
        var rng = SplitMix64(seed: 13)
        GPUModelCheck.attachRandomAdapters(to: cpu, targets: Projection.allCases, dropout: 0.1, rng: &rng)
        // Three sequences of 37 positions (no multiple of any tile); the last is padded after 29
        // tokens, and the first 5 positions of each have no label.
        let batch = 3, length = 37
        var tokens: [Int32] = [], labels: [Int32] = []
        for b in 0..<batch {
            let real = b == batch - 1 ? 29 : length
            let row = (0..<length).map { t in t < real ? Int32(1 + rng.next() % UInt64(shape.vocabulary - 1)) : 0 }
            tokens += row
            labels += (0..<length).map { t in t >= 5 && t + 1 < real ? row[t + 1] : CrossEntropy.ignoreIndex }
        }
        let count = labels.filter { $0 != CrossEntropy.ignoreIndex }.count
        let scale = 1 / Float(count)
        let training = ForwardPass(batch: batch, length: length, useAdapter: true, dropoutSeed: 99)
        let validation = ForwardPass(batch: batch, length: length, useAdapter: true)
        print("training check: \(shape.summary); LoRA r 8 on all seven projections, dropout 0.1; \(batch) × \(length) tokens, \(count) labelled")

        let reference = try Self.gradients(of: cpu) { cpu.lossAndGradients(tokens: tokens, labels: labels, pass: training, gradScale: scale) }
        let referenceValidation = cpu.loss(tokens: tokens, labels: labels, pass: validation).loss

        let exact = try CUDAQwen2Trainer(cpu, kernels: try kernels(.float32), blas: blas)
        let f32 = try Self.gradients(of: cpu) { try exact.lossAndGradients(tokens: tokens, labels: labels, pass: training, gradScale: scale) }
        compare("float32", f32, reference, exact: true)
        exact.gradientCheckpointing = true
        let replayed = try Self.gradients(of: cpu) { try exact.lossAndGradients(tokens: tokens, labels: labels, pass: training, gradScale: scale) }
        let same = replayed.loss == f32.loss && zip(replayed.grads, f32.grads).allSatisfy { $0.values == $1.values }
        print("float32 with gradient checkpointing: " + (same ? "bit-identical" : "DIFFERENT"))
        if !same { failures.append("gradient checkpointing changed the GPU gradients") }
        let gpuValidation = try exact.loss(tokens: tokens, labels: labels, pass: validation).loss
        let validationGap = abs(gpuValidation - referenceValidation) / referenceValidation
        print(String(format: "float32 validation loss: GPU %.6f, CPU %.6f (relative %.1e)", gpuValidation, referenceValidation, validationGap))
        if !(validationGap <= Self.lossTolerance) { failures.append(String(format: "validation loss differs by %.1e", validationGap)) }

        let fast = try CUDAQwen2Trainer(cpu, kernels: try kernels(.bfloat16), blas: blas)
        let bf16 = try Self.gradients(of: cpu) { try fast.lossAndGradients(tokens: tokens, labels: labels, pass: training, gradScale: scale) }
        compare("bfloat16", bf16, reference, exact: false)

        try descend(cpu: cpu, gpu: fast, tokens: tokens, labels: labels, batch: batch, length: length, count: count)
    }

    private func kernels(_ storage: CUDAKernelSource.Storage) throws -> CUDAKernels {
        try CUDAKernels(device: device, nvrtc: nvrtc, cache: cache, storage: storage)
    }

    /// The loss of `pass` and a copy of every adapter gradient it gave, from zeroed gradients.
    static func gradients(of model: Qwen2Model<Float>, _ pass: () throws -> (loss: Double, count: Int)) throws -> Gradients {
        let parameters = LoRASetup.parameters(of: model)
        parameters.forEach { $0.zeroGrad() }
        let loss = try pass().loss
        return (loss, parameters.map { ($0.name, $0.grad.array) })
    }

    /// Float32 storage: the loss within `lossTolerance` and each tensor's max |Δ| within
    /// `gradientTolerance` of its largest entry; bfloat16: the loss within `bf16LossTolerance`
    /// and each tensor's cosine with the reference at least `bf16Cosine`.
    mutating func compare(_ label: String, _ gpu: Gradients, _ cpu: Gradients, exact: Bool) {
        let lossGap = abs(gpu.loss - cpu.loss) / abs(cpu.loss)
        var worstRelative = (0.0, ""), worstCosine = (1.0, "")
        for (g, c) in zip(gpu.grads, cpu.grads) {
            let largest = Double(c.values.lazy.map(abs).max() ?? 0)
            let relative = GPUModelCheck.maxDifference(g.values, c.values) / max(largest, .leastNormalMagnitude)
            var dot = 0.0, gg = 0.0, cc = 0.0
            for (x, y) in zip(g.values, c.values) { dot += Double(x) * Double(y); gg += Double(x) * Double(x); cc += Double(y) * Double(y) }
            let cosine = dot / max((gg * cc).squareRoot(), .leastNormalMagnitude)
            if !(relative <= worstRelative.0) { worstRelative = (relative, c.name) }
            if !(cosine >= worstCosine.0) { worstCosine = (cosine, c.name) }
        }
        print("\(label): " + String(format: "loss GPU %.6f, CPU %.6f (relative %.1e); %d gradient tensors, worst max|Δ|/max|g| %.1e (%@), worst cosine %.6f (%@)",
                                    gpu.loss, cpu.loss, lossGap, cpu.grads.count, worstRelative.0, worstRelative.1, worstCosine.0, worstCosine.1))
        if exact {
            if !(lossGap <= Self.lossTolerance) { failures.append("\(label): loss differs by " + String(format: "%.1e", lossGap)) }
            if !(worstRelative.0 <= Self.gradientTolerance) {
                failures.append("\(label): \(worstRelative.1) differs by " + String(format: "%.1e of its largest entry", worstRelative.0))
            }
        } else {
            if !(lossGap <= Self.bf16LossTolerance) { failures.append("\(label): loss differs by " + String(format: "%.1e", lossGap)) }
            if !(worstCosine.0 >= Self.bf16Cosine) {
                failures.append("\(label): \(worstCosine.1) has cosine " + String(format: "%.4f", worstCosine.0) + " with the CPU gradient")
            }
        }
    }

    /// `adamSteps` AdamW steps on the one batch from the same adapters, on the CPU (float32) and
    /// the GPU (bfloat16): both curves fall, and end within 5% of each other.
    mutating func descend(cpu: Qwen2Model<Float>, gpu: CUDAQwen2Trainer, tokens: [Int32], labels: [Int32], batch: Int, length: Int,
                          count: Int) throws {
        let parameters = LoRASetup.parameters(of: cpu)
        let start = parameters.map(\.value.array)
        func curve(_ step: (ForwardPass) throws -> Double) rethrows -> [Double] {
            for (parameter, values) in zip(parameters, start) { parameter.value.pointer.update(from: values, count: values.count) }
            let optimizer = AdamW<Float>(weightDecay: 0)
            return try (0..<Self.adamSteps).map { index in
                parameters.forEach { $0.zeroGrad() }
                let loss = try step(ForwardPass(batch: batch, length: length, useAdapter: true, dropoutSeed: UInt64(index)))
                optimizer.step(parameters, learningRate: 1e-3)
                return loss / Double(count)
            }
        }
        let scale = 1 / Float(count)
        let onCPU = curve { cpu.lossAndGradients(tokens: tokens, labels: labels, pass: $0, gradScale: scale).loss }
        let onGPU = try curve { try gpu.lossAndGradients(tokens: tokens, labels: labels, pass: $0, gradScale: scale).loss }
        for (parameter, values) in zip(parameters, start) { parameter.value.pointer.update(from: values, count: values.count) }
        print("AdamW on one batch (lr 1e-3), mean loss per token:  step: CPU float32 | GPU bfloat16")
        for index in [0, 9, 19, 29, 39, 49] where index < Self.adamSteps {
            print(String(format: "  %3d: %.4f | %.4f", index + 1, onCPU[index], onGPU[index]))
        }
        let (first, last, cpuLast) = (onGPU[0], onGPU[onGPU.count - 1], onCPU[onCPU.count - 1])
        if !(last < 0.9 * first) { failures.append(String(format: "AdamW on the GPU went from %.4f to %.4f", first, last)) }
        if !(abs(last - cpuLast) <= 0.05 * cpuLast) {
            failures.append(String(format: "after %d AdamW steps the GPU loss is %.4f, the CPU's %.4f", Self.adamSteps, last, cpuLast))
        }
    }
}
