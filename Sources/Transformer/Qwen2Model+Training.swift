import MedtuneCore

extension Qwen2Model: LoRAModel {
    public var layerCount: Int { layers.count }

    public func features(_ site: AdapterSite) -> (inFeatures: Int, outFeatures: Int) {
        let linear = layers[site.layer][site.projection]
        return (linear.inFeatures, linear.outFeatures)
    }

    public var attachedAdapters: [(site: AdapterSite, adapter: LoRAAdapter<T>)] {
        sites.compactMap { site in layers[site.layer][site.projection].adapter.map { (site, $0) } }
    }

    public func attach(_ adapters: [(site: AdapterSite, adapter: LoRAAdapter<T>)]) {
        for site in sites { layers[site.layer][site.projection].adapter = nil }
        for (site, adapter) in adapters {
            let linear = layers[site.layer][site.projection]
            precondition(adapter.inFeatures == linear.inFeatures && adapter.outFeatures == linear.outFeatures,
                         "\(site.modulePath): adapter \(adapter.outFeatures)×\(adapter.inFeatures) for a \(linear.outFeatures)×\(linear.inFeatures) projection")
            linear.adapter = adapter
        }
    }
}

extension Qwen2Model: TrainableModel {
    /// Forward and backward over one micro-batch (`TrainableModel`). The LM head runs a chunk of
    /// rows at a time (`ChunkedCrossEntropy`), so the [rows × vocabulary] logits never exist at once.
    // Callers hold the model as a role protocol, whose witnesses run the generic body; these
    // attributes make that body branch at once to code specialised for Float (training and
    // inference) and Double (the gradient checks), as direct calls on a concrete model get.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func lossAndGradients(tokens: [Int32], labels: [Int32], pass: ForwardPass, gradScale: T) -> (loss: Double, count: Int) {
        precondition(labels.count == pass.rows, "\(labels.count) labels for \(pass.rows) tokens")
        let rope: (cos: [T], sin: [T]) = ropeTable(pass)
        let x = embed(tokens, pass: pass)
        var saved: [LayerActivations<T>?] = []
        var inputs: [Tensor<T>] = []
        for layer in layers {
            if gradientCheckpointing {
                inputs.append(x.copy())
                _ = layer.forward(x, pass: pass, rope: rope, save: false)
            } else {
                saved.append(layer.forward(x, pass: pass, rope: rope, save: true))
            }
        }
        let rows = pass.rows
        let normed = Tensor<T>([rows, hiddenSize]), rstd = Tensor<T>([rows])
        let norm = RMSNorm(dim: hiddenSize, eps: rmsEps)
        norm.forward(x.pointer, weight: finalNorm.pointer, rows: rows, into: normed.pointer, rstd: rstd.pointer)
        let dNormed = Tensor<T>([rows, hiddenSize])
        let result = labels.withUnsafeBufferPointer { labels in
            ChunkedCrossEntropy(precision: pass.matrixPrecision)(hidden: normed.pointer, rows: rows, head: lmHead, labels: labels.baseAddress!,
                                                      gradScale: gradScale, dHidden: dNormed.pointer)
        }
        let dx = Tensor<T>([rows, hiddenSize])
        norm.backward(dNormed.pointer, x: x.pointer, weight: finalNorm.pointer, rstd: rstd.pointer, rows: rows, dx: dx.pointer, dWeight: nil)
        for layer in layers.reversed() {
            let activations: LayerActivations<T>
            if gradientCheckpointing {
                let replay = inputs[layer.index]
                activations = layer.forward(replay, pass: pass, rope: rope, save: true)!
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
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func loss(tokens: [Int32], labels: [Int32], pass: ForwardPass) -> (loss: Double, count: Int) {
        let hidden = hiddenStates(tokens: tokens, pass: pass)
        return labels.withUnsafeBufferPointer { labels in
            ChunkedCrossEntropy(precision: pass.matrixPrecision)(hidden: hidden.pointer, rows: pass.rows, head: lmHead,
                                                      labels: labels.baseAddress!, dHidden: nil)
        }
    }
}
