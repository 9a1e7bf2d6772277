import MedtuneCore

extension Qwen2Model {
    /// All LoRA adapters of the model, keyed by PEFT's module path
    /// (`model.layers.N.self_attn.q_proj`, `model.layers.N.mlp.gate_proj`, …).
    public var adapters: [(name: String, adapter: LoRAAdapter<T>)] {
        layers.flatMap { layer in
            layer.projections.compactMap { projection in
                projection.linear.adapter.map { (Self.modulePath(layer: layer.index, projection: projection.name), $0) }
            }
        }
    }

    /// PEFT's module path of a projection.
    public static func modulePath(layer: Int, projection: String) -> String {
        let group = ["q_proj", "k_proj", "v_proj", "o_proj"].contains(projection) ? "self_attn" : "mlp"
        return "model.layers.\(layer).\(group).\(projection)"
    }

    /// Forward and backward over one micro-batch: returns the summed cross-entropy of the labelled
    /// tokens and their count, and accumulates gradScale · ∂loss/∂(LoRA parameters) into each
    /// adapter's gradA/gradB. Labels are aligned with tokens (label i is the token that should
    /// follow token i; CrossEntropy.ignoreIndex where nothing is counted).
    ///
    /// With `checkpointing`, only each layer's input is kept and the layer is recomputed during
    /// backward (same dropout masks), trading one extra forward for activation memory.
    public func lossAndGradients(tokens: [Int32], labels: [Int32], pass: ForwardPass, gradScale: T,
                                 checkpointing: Bool = false, chunkRows: Int = 256) -> (loss: Double, count: Int) {
        precondition(labels.count == pass.rows, "\(labels.count) labels for \(pass.rows) tokens")
        let rope: (cos: [T], sin: [T]) = ropeTable(pass)
        let x = embed(tokens, pass: pass)
        var saved: [LayerActivations<T>?] = []
        var inputs: [Tensor<T>] = []
        for layer in layers {
            if checkpointing {
                inputs.append(x.copy())
                _ = layer.forward(x, pass: pass, rope: rope, cache: nil, save: false)
            } else {
                saved.append(layer.forward(x, pass: pass, rope: rope, cache: nil, save: true))
            }
        }
        let rows = pass.rows
        let normed = Tensor<T>([rows, hiddenSize]), rstd = Tensor<T>([rows])
        let norm = RMSNorm(dim: hiddenSize, eps: rmsEps)
        norm.forward(x.pointer, weight: finalNorm.pointer, rows: rows, into: normed.pointer, rstd: rstd.pointer)
        let dNormed = Tensor<T>([rows, hiddenSize])
        let result = labels.withUnsafeBufferPointer { labels in
            ChunkedCrossEntropy(chunkRows: chunkRows, precision: pass.matrixPrecision)(hidden: normed.pointer, rows: rows, head: lmHead, labels: labels.baseAddress!,
                                                      gradScale: gradScale, dHidden: dNormed.pointer)
        }
        let dx = Tensor<T>([rows, hiddenSize])
        norm.backward(dNormed.pointer, x: x.pointer, weight: finalNorm.pointer, rstd: rstd.pointer, rows: rows, dx: dx.pointer, dWeight: nil)
        for layer in layers.reversed() {
            let activations: LayerActivations<T>
            if checkpointing {
                let replay = inputs[layer.index]
                activations = layer.forward(replay, pass: pass, rope: rope, cache: nil, save: true)!
                inputs[layer.index] = Tensor<T>([0])
            } else {
                activations = saved[layer.index]!
                saved[layer.index] = nil
            }
            layer.backward(dx, pass: pass, rope: rope, saved: activations)
        }
        return result
    }

    /// Summed loss and token count without gradients (validation).
    public func loss(tokens: [Int32], labels: [Int32], pass: ForwardPass, chunkRows: Int = 256) -> (loss: Double, count: Int) {
        let hidden = hiddenStates(tokens: tokens, pass: pass)
        return labels.withUnsafeBufferPointer { labels in
            ChunkedCrossEntropy(chunkRows: chunkRows, precision: pass.matrixPrecision)(hidden: hidden.pointer, rows: pass.rows, head: lmHead,
                                                      labels: labels.baseAddress!, dHidden: nil)
        }
    }
}
