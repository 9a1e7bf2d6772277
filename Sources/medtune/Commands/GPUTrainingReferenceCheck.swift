import CUDA
import CUDATransformer
import Foundation
import MedtuneCore
import ModelFiles
import Trainer
import Transformer

/// `bench gpu --train-reference FOLDER`: medtune's training against HF transformers + PEFT, from
/// what `scripts/peers/hf_peft_train_reference.py` wrote there: a random two-layer Qwen2
/// (`model/`, float32), a PEFT adapter with random A and B on all seven projections (`adapter/`),
/// PEFT's gradients (`grads.safetensors`) and losses (`reference.json`) on a fixed batch of real
/// text. Each backend (the CPU path always; the GPU in float32 and bfloat16 storage) is checked:
/// - float32: the mean loss within 1e-4 relative, every LoRA gradient tensor within 1e-3 of its
///   largest entry, and the losses of 3 SGD steps within 1e-3;
/// - bfloat16: the loss within 1e-2 of PEFT bf16, and 50 AdamW steps fall as PEFT's do (printed
///   side by side; the last within 5%).
struct GPUTrainingReferenceCheck {
    let folder: URL
    var failures: [String] = []

    static let lossTolerance = 1e-4, gradientTolerance = 1e-3, stepTolerance = 1e-3
    static let bf16LossTolerance = 1e-2, curveTolerance = 0.05

    struct Reference: Decodable {
        struct Float32Run: Decodable { var loss: Double; var sgd: [Double] }
        struct BFloat16Run: Decodable { var loss: Double; var adamw: [Double] }
        var tokens: [[Int32]]
        var sgd_lr: Double
        var adamw_lr: Double
        var float32: Float32Run
        var bfloat16: BFloat16Run
    }

    /// The backends to check, by name, each made from the loaded CPU model (which keeps the adapter).
    typealias Backend = (label: String, exact: Bool, make: (Qwen2Model<Float>) throws -> any TrainableModel<Float>)

    mutating func run(backends: [Backend]) throws {
        let file = folder.appendingPathComponent("reference.json")
        let reference: Reference
        do {
            reference = try JSONDecoder().decode(Reference.self, from: try Data(contentsOf: file))
        } catch {
            throw InputError(file: file.path, "not a reference written by scripts/peers/hf_peft_train_reference.py (\(SystemError.reason(of: error)))")
        }
        let model = try Qwen2Model<Float>.load(path: folder.appendingPathComponent("model").path).model
        try PEFTAdapter.load(folder.appendingPathComponent("adapter").path, into: model, dropout: 0)
        let grads = try SafetensorsFile(path: folder.appendingPathComponent("grads.safetensors").path)
        let parameters = LoRASetup.parameters(of: model)
        let expected = try parameters.map { try grads.tensor(named: $0.name).floats() }
        let start = parameters.map(\.value.array)

        // HF's labels are the inputs, shifted inside the loss: label i is token i + 1.
        let batch = reference.tokens.count, length = reference.tokens[0].count
        let tokens = reference.tokens.flatMap { $0 }
        let labels = reference.tokens.flatMap { row in Array(row.dropFirst()) + [CrossEntropy.ignoreIndex] }
        let count = batch * (length - 1)
        let pass = ForwardPass(batch: batch, length: length, useAdapter: true)
        print("training reference: \(parameters.count) LoRA tensors, \(batch) × \(length) tokens of real text, \(count) labelled")

        for backend in backends {
            let trainable = try backend.make(model)
            func restart() { for (parameter, values) in zip(parameters, start) { parameter.value.pointer.update(from: values, count: values.count) } }
            /// The mean losses of `steps` optimiser steps from the reference's start (each before its update).
            func curve(_ optimizer: any Optimizer<Float>, learningRate: Double, steps: Int) throws -> [Double] {
                restart()
                defer { restart() }
                return try (0..<steps).map { _ in
                    parameters.forEach { $0.zeroGrad() }
                    let loss = try trainable.lossAndGradients(tokens: tokens, labels: labels, pass: pass, gradScale: 1 / Float(count)).loss
                    optimizer.step(parameters, learningRate: learningRate)
                    return loss / Double(count)
                }
            }
            if backend.exact {
                parameters.forEach { $0.zeroGrad() }
                let loss = try trainable.lossAndGradients(tokens: tokens, labels: labels, pass: pass, gradScale: 1 / Float(count)).loss / Double(count)
                var worst = (0.0, "")
                for (parameter, peft) in zip(parameters, expected) {
                    let largest = Double(peft.lazy.map(abs).max() ?? 0)
                    let gap = GPUModelCheck.maxDifference(parameter.grad.array, peft) / max(largest, .leastNormalMagnitude)
                    if !(gap <= worst.0) { worst = (gap, parameter.name) }
                }
                let sgd = try curve(SGD<Float>(momentum: 0, weightDecay: 0), learningRate: reference.sgd_lr, steps: reference.float32.sgd.count)
                let lossGap = abs(loss - reference.float32.loss) / reference.float32.loss
                let sgdGap = zip(sgd, reference.float32.sgd).map { abs($0 - $1) / $1 }.max() ?? .infinity
                print("\(backend.label): " + String(format: "loss %.6f, PEFT %.6f (relative %.1e); worst gradient max|Δ|/max|g| %.1e (%@); SGD losses %@ vs PEFT %@ (worst %.1e)",
                                                    loss, reference.float32.loss, lossGap, worst.0, worst.1,
                                                    sgd.map { String(format: "%.5f", $0) }.joined(separator: " "),
                                                    reference.float32.sgd.map { String(format: "%.5f", $0) }.joined(separator: " "), sgdGap))
                if !(lossGap <= Self.lossTolerance) { failures.append("\(backend.label): loss differs from PEFT's by " + String(format: "%.1e", lossGap)) }
                if !(worst.0 <= Self.gradientTolerance) {
                    failures.append("\(backend.label): \(worst.1) differs from PEFT's by " + String(format: "%.1e of its largest entry", worst.0))
                }
                if !(sgdGap <= Self.stepTolerance) { failures.append("\(backend.label): SGD losses differ from PEFT's by " + String(format: "%.1e", sgdGap)) }
            } else {
                let loss = try trainable.loss(tokens: tokens, labels: labels, pass: pass).loss / Double(count)
                let adamw = try curve(AdamW<Float>(weightDecay: 0), learningRate: reference.adamw_lr, steps: reference.bfloat16.adamw.count)
                let lossGap = abs(loss - reference.bfloat16.loss) / reference.bfloat16.loss
                print("\(backend.label): " + String(format: "loss %.6f, PEFT bf16 %.6f (relative %.1e); AdamW (lr %.0e) step: medtune | PEFT",
                                                    loss, reference.bfloat16.loss, lossGap, reference.adamw_lr))
                for index in [0, 9, 19, 29, 39, 49] where index < adamw.count {
                    print(String(format: "  %3d: %.4f | %.4f", index + 1, adamw[index], reference.bfloat16.adamw[index]))
                }
                if !(lossGap <= Self.bf16LossTolerance) { failures.append("\(backend.label): loss differs from PEFT bf16's by " + String(format: "%.1e", lossGap)) }
                let (first, last, peftLast) = (adamw[0], adamw[adamw.count - 1], reference.bfloat16.adamw[adamw.count - 1])
                if !(last < 0.9 * first && abs(last - peftLast) <= Self.curveTolerance * peftLast) {
                    failures.append(String(format: "\(backend.label): AdamW went from %.4f to %.4f, PEFT's to %.4f", first, last, peftLast))
                }
            }
        }
    }
}
