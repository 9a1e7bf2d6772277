import MedtuneCore
import Transformer

/// Small random Qwen2 models for gradient checks and consistency tests.
public enum TinyQwen {
    public struct Shape {
        public var vocabulary = 11, hidden = 8, heads = 2, kvHeads = 1, intermediate = 12, layers = 2
        public var rank = 2, alpha = 4.0, dropout = 0.0
        public var targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        public init() {}
    }

    /// A model with random weights; LoRA adapters on `targets` with random (non-zero) A and B,
    /// so every gradient path is exercised.
    public static func make<T: DecoderScalar>(_ shape: Shape = Shape(), seed: UInt64 = 1, as: T.Type = T.self) -> Qwen2Model<T> {
        // Adapters draw from their own stream, so that the base weights do not depend on targets.
        var rng = SplitMix64(seed: seed), adapterRNG = SplitMix64(seed: seed ^ 0xA11A)
        func random(_ dims: [Int], scale: Double = 0.5, from generator: inout SplitMix64) -> Tensor<T> {
            let t = Tensor<T>(dims)
            for i in 0..<t.count { t[i] = T((generator.nextDouble() * 2 - 1) * scale) }
            return t
        }
        func random(_ dims: [Int], scale: Double = 0.5) -> Tensor<T> { random(dims, scale: scale, from: &rng) }
        func norm() -> Tensor<T> {
            let t = Tensor<T>([shape.hidden])
            for i in 0..<t.count { t[i] = T(1 + (rng.nextDouble() - 0.5) * 0.2) }
            return t
        }
        let headDim = shape.hidden / shape.heads
        func linear(_ name: String, _ inFeatures: Int, _ outFeatures: Int, bias: Bool = false) -> LoRALinear<T> {
            let base = DenseMatrix(random([outFeatures, inFeatures]))
            var adapter: LoRAAdapter<T>?
            if shape.targets.contains(name) {
                adapter = LoRAAdapter(a: random([shape.rank, inFeatures], from: &adapterRNG), b: random([outFeatures, shape.rank], from: &adapterRNG),
                                      alpha: shape.alpha, dropout: shape.dropout)
            }
            return LoRALinear(base: base, bias: bias ? random([outFeatures]) : nil, adapter: adapter)
        }
        let layers = (0..<shape.layers).map { index in
            DecoderLayer<T>(index: index, inputNorm: norm(), postAttentionNorm: norm(),
                            q: linear("q_proj", shape.hidden, shape.heads * headDim, bias: true),
                            k: linear("k_proj", shape.hidden, shape.kvHeads * headDim, bias: true),
                            v: linear("v_proj", shape.hidden, shape.kvHeads * headDim, bias: true),
                            o: linear("o_proj", shape.heads * headDim, shape.hidden),
                            gate: linear("gate_proj", shape.hidden, shape.intermediate),
                            up: linear("up_proj", shape.hidden, shape.intermediate),
                            down: linear("down_proj", shape.intermediate, shape.hidden),
                            heads: shape.heads, kvHeads: shape.kvHeads, rmsEps: 1e-6, ropeTheta: 10_000)
        }
        return Qwen2Model(embedding: DenseMatrix(random([shape.vocabulary, shape.hidden], scale: 1)), layers: layers,
                          finalNorm: norm(), lmHead: DenseMatrix(random([shape.vocabulary, shape.hidden])),
                          rmsEps: 1e-6, ropeTheta: 10_000)
    }
}
