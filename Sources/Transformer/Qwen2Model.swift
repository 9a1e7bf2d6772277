import MedtuneCore

/// A Qwen2-architecture decoder: token embedding, decoder layers, final RMSNorm, LM head.
///
/// Frozen weights stay in their stored precision behind `LinearMap`/`TokenEmbedding`; compute
/// runs in T (Float; Double for gradient checks). LoRA adapters live inside the projections and
/// each pass chooses whether they take part.
public final class Qwen2Model<T: DecoderScalar>: @unchecked Sendable {
    public let embedding: TokenEmbedding
    public let layers: [DecoderLayer<T>]
    public let finalNorm: Tensor<T>
    public let lmHead: LinearMap
    public let rmsEps: Double
    public let ropeTheta: Double
    /// Whether training recomputes each layer in backward (`TrainableModel`).
    public var gradientCheckpointing = false

    public init(embedding: TokenEmbedding, layers: [DecoderLayer<T>], finalNorm: Tensor<T>, lmHead: LinearMap,
                rmsEps: Double, ropeTheta: Double) {
        self.embedding = embedding; self.layers = layers; self.finalNorm = finalNorm; self.lmHead = lmHead
        self.rmsEps = rmsEps; self.ropeTheta = ropeTheta
    }

    public var hiddenSize: Int { finalNorm.count }
    public var vocabulary: Int { lmHead.outFeatures }
    public var kvHeads: Int { layers.first?.kvHeads ?? 0 }
    public var headDim: Int { layers.first?.headDim ?? 0 }

    /// An empty cache for `batch` sequences of up to `capacity` positions.
    public func makeCache(batch: Int, capacity: Int) -> KVCache<T> {
        KVCache(layers: layers.count, batch: batch, capacity: capacity, kvHeads: kvHeads, headDim: headDim)
    }

    /// Hidden states after the final norm, [pass.rows × hidden], for the tokens of the pass.
    /// With a cache, the pass continues the cached sequences and the cache grows by pass.length.
    /// `stopAfterLayer` returns the residual stream after that many layers instead (no final norm),
    /// as HF's `hidden_states[n]`; n = layer count gives the final normed states.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func hiddenStates(tokens: [Int32], pass: ForwardPass, cache: KVCache<T>? = nil, stopAfterLayer: Int? = nil) -> Tensor<T> {
        let x = embed(tokens, pass: pass)
        let rope: (cos: [T], sin: [T]) = ropeTable(pass)
        let count = min(stopAfterLayer ?? layers.count, layers.count)
        if let cache, pass.length == 1, count == layers.count {
            for layer in layers { T.decodingStep(layer, x, pass: pass, rope: rope, cache: cache) }
        } else {
            for layer in layers[..<count] { layer.infer(x, pass: pass, rope: rope, cache: cache) }
        }
        if let cache {
            // Layers past `count` did not store their keys; a partial pass leaves the cache unusable.
            precondition(count == layers.count, "a cached pass must run every layer")
            cache.advance(by: pass.length)
        }
        if count < layers.count { return x }
        return finalNormed(x, rows: pass.rows)
    }

    /// Logits [rows.count × vocabulary] for the selected rows of the pass (e.g. each sequence's
    /// last token), so that the 151,936-wide head is applied only where it is needed.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func logits(tokens: [Int32], pass: ForwardPass, cache: KVCache<T>? = nil, rows: [Int]) -> Tensor<T> {
        let hidden = hiddenStates(tokens: tokens, pass: pass, cache: cache)
        let selected = Tensor<T>([rows.count, hiddenSize])
        for (i, r) in rows.enumerated() {
            (selected.pointer + i * hiddenSize).update(from: hidden.pointer + r * hiddenSize, count: hiddenSize)
        }
        let out = Tensor<T>([rows.count, vocabulary])
        lmHead.forward(selected.pointer, rows: rows.count, into: out.pointer, precision: pass.matrixPrecision)
        return out
    }

    func embed(_ tokens: [Int32], pass: ForwardPass) -> Tensor<T> {
        precondition(tokens.count == pass.rows, "\(tokens.count) tokens for a pass of \(pass.rows)")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < embedding.vocabulary }, "token id outside the vocabulary of \(embedding.vocabulary)")
        let x = Tensor<T>([pass.rows, hiddenSize])
        embedding.lookup(tokens, into: x.pointer)
        return x
    }

    func ropeTable(_ pass: ForwardPass) -> (cos: [T], sin: [T]) {
        RotaryEmbedding(headDim: headDim, theta: ropeTheta).table(positions: pass.positions)
    }

    func finalNormed(_ x: Tensor<T>, rows: Int) -> Tensor<T> {
        let out = Tensor<T>([rows, hiddenSize]), rstd = Tensor<T>([rows])
        RMSNorm(dim: hiddenSize, eps: rmsEps).forward(x.pointer, weight: finalNorm.pointer, rows: rows, into: out.pointer, rstd: rstd.pointer)
        return out
    }
}

extension Qwen2Model: DecodingModel {
    // Callers hold the model as a role protocol, whose witnesses run the generic body; these
    // attributes make that body branch at once to code specialised for Float (training and
    // inference) and Double (the gradient checks), as direct calls on a concrete model get.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func prefill(_ tokens: [Int32], pass: ForwardPass, cache: KVCache<T>) -> Tensor<T> {
        precondition(cache.length == 0, "a prompt pass starts an empty cache")
        return logits(tokens: tokens, pass: pass, cache: cache, rows: (0..<pass.batch).map { ($0 + 1) * pass.length - 1 })
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func decode(_ tokens: [Int32], pass: ForwardPass, cache: KVCache<T>) -> Tensor<T> {
        precondition(pass.length == 1, "a decoding step takes one token per sequence")
        return logits(tokens: tokens, pass: pass, cache: cache, rows: Array(0..<pass.batch))
    }
}

extension Qwen2Model: HiddenStateModel {
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func hiddenStates(_ tokens: [Int32], pass: ForwardPass, layer: Int) -> Tensor<T> {
        hiddenStates(tokens: tokens, pass: pass, stopAfterLayer: layer)
    }
}
