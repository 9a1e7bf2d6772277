import MedtuneCore
import ModelFiles

extension LinearWeight: TokenEmbedding {
    public var vocabulary: Int { outFeatures }
    public var dim: Int { inFeatures }

    public func lookup<T: Scalar>(_ ids: [Int32], into out: UnsafeMutablePointer<T>) {
        do {
            try embeddingRows(ids.map(Int.init), into: out)
        } catch {
            // Ids come from the model's own tokenizer and are range-checked by Qwen2Model.embed.
            preconditionFailure("\(error)")
        }
    }
}

extension Qwen2Model where T == Float {
    /// Builds the model from an opened checkpoint (HF folder or GGUF). Projections stay in their
    /// stored precision, memory-mapped; norms and biases are decoded to float32.
    public static func load(_ checkpoint: ModelCheckpoint) throws -> Qwen2Model<Float> {
        let config = checkpoint.config
        func vector(_ name: String) throws -> Tensor<Float> {
            let values = try checkpoint.floats(name)
            return Tensor([values.count], values)
        }
        func linear(_ layer: Int, _ weight: Qwen2TensorNames.Layer, bias: Qwen2TensorNames.Layer? = nil) throws -> LoRALinear<Float> {
            LoRALinear(base: try checkpoint.linear(Qwen2TensorNames.layer(layer, weight)),
                       bias: try bias.map { try vector(Qwen2TensorNames.layer(layer, $0)) })
        }
        let layers = try (0..<config.layerCount).map { i in
            DecoderLayer<Float>(index: i,
                                inputNorm: try vector(Qwen2TensorNames.layer(i, .inputNorm)),
                                postAttentionNorm: try vector(Qwen2TensorNames.layer(i, .postAttentionNorm)),
                                q: try linear(i, .qProj, bias: .qBias), k: try linear(i, .kProj, bias: .kBias),
                                v: try linear(i, .vProj, bias: .vBias), o: try linear(i, .oProj),
                                gate: try linear(i, .gateProj), up: try linear(i, .upProj), down: try linear(i, .downProj),
                                heads: config.headCount, kvHeads: config.kvHeadCount,
                                rmsEps: config.rmsNormEpsilon, ropeTheta: config.ropeTheta)
        }
        return Qwen2Model(embedding: try checkpoint.linear(Qwen2TensorNames.embedding), layers: layers,
                          finalNorm: try vector(Qwen2TensorNames.finalNorm), lmHead: try checkpoint.outputProjection(),
                          rmsEps: config.rmsNormEpsilon, ropeTheta: config.ropeTheta)
    }

    /// Opens a model folder or GGUF file and builds the model.
    public static func load(path: String) throws -> (model: Qwen2Model<Float>, checkpoint: ModelCheckpoint) {
        let checkpoint = try ModelCheckpoint.open(path)
        return (try load(checkpoint), checkpoint)
    }
}
