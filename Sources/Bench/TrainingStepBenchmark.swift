import Dispatch
import MedtuneCore
import ModelFiles
import Trainer
import Transformer

/// Times full training steps (forward, backward, clipping, AdamW) on one micro-batch of random
/// tokens, and counts the matrix arithmetic a step needs, so that throughput can be read as a
/// fraction of what the machine's sgemm achieves.
public enum TrainingStepBenchmark {
    /// Dimensions of a Qwen2 decoder.
    public struct Shape: Sendable {
        public var vocabulary: Int, hidden: Int, layers: Int, heads: Int, kvHeads: Int, intermediate: Int
        public var tiedEmbeddings: Bool
        public var ropeTheta = 1_000_000.0, rmsEps = 1e-6

        /// Qwen2.5-0.5B (and Qwen2.5-Coder-0.5B).
        public static let qwen25HalfB = Shape(vocabulary: 151_936, hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864,
                                              tiedEmbeddings: true)
        /// DeepSeek-R1-Distill-Qwen-7B, the tutorial's model (Qwen2.5-7B's shapes).
        public static let qwen2SevenB = Shape(vocabulary: 152_064, hidden: 3584, layers: 28, heads: 28, kvHeads: 4, intermediate: 18_944,
                                              tiedEmbeddings: false, ropeTheta: 10_000)

        public var summary: String {
            "\(layers) layers, hidden \(hidden), \(heads) heads, \(kvHeads) KV heads, intermediate \(intermediate), vocabulary \(vocabulary)"
                + (tiedEmbeddings ? ", tied embeddings" : "")
        }
    }

    /// A model with random weights of the given shape, its frozen matrices stored as `storage`
    /// (f32, f16 or bf16) the way a loaded model keeps them, for measuring speed and memory
    /// without a model file. Values are a function of the seed and their position only.
    public static func randomModel(_ shape: Shape, storage: StorageType = .f32, seed: UInt64 = 1) throws -> Qwen2Model<Float> {
        var tensors = 0
        func matrix(_ name: String, _ rows: Int, _ columns: Int, scale: Float) throws -> LinearWeight {
            tensors += 1
            let tensorSeed = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(tensors)
            return try LinearWeight(StoredTensor.generated(name: name, type: storage, rows: rows, columns: columns) { r, row in
                var rng = SplitMix64(seed: tensorSeed &+ UInt64(r) &* 0xBF58_476D_1CE4_E5B9)
                for c in 0..<columns { row[c] = (rng.nextFloat() * 2 - 1) * scale }
            })
        }
        var rng = SplitMix64(seed: seed)
        func bias(_ count: Int) -> Tensor<Float> {
            Tensor([count], (0..<count).map { _ in (rng.nextFloat() * 2 - 1) * 0.02 })
        }
        func ones() -> Tensor<Float> { Tensor([shape.hidden], Array(repeating: 1, count: shape.hidden)) }
        func linear(_ name: String, _ inFeatures: Int, _ outFeatures: Int, bias hasBias: Bool = false) throws -> LoRALinear<Float> {
            LoRALinear(base: try matrix(name, outFeatures, inFeatures, scale: 1 / Float(inFeatures).squareRoot()),
                       bias: hasBias ? bias(outFeatures) : nil)
        }
        let headDim = shape.hidden / shape.heads
        let layers = try (0..<shape.layers).map { index in
            let prefix = "model.layers.\(index)."
            return DecoderLayer<Float>(
                index: index, inputNorm: ones(), postAttentionNorm: ones(),
                q: try linear(prefix + "self_attn.q_proj.weight", shape.hidden, shape.heads * headDim, bias: true),
                k: try linear(prefix + "self_attn.k_proj.weight", shape.hidden, shape.kvHeads * headDim, bias: true),
                v: try linear(prefix + "self_attn.v_proj.weight", shape.hidden, shape.kvHeads * headDim, bias: true),
                o: try linear(prefix + "self_attn.o_proj.weight", shape.heads * headDim, shape.hidden),
                gate: try linear(prefix + "mlp.gate_proj.weight", shape.hidden, shape.intermediate),
                up: try linear(prefix + "mlp.up_proj.weight", shape.hidden, shape.intermediate),
                down: try linear(prefix + "mlp.down_proj.weight", shape.intermediate, shape.hidden),
                heads: shape.heads, kvHeads: shape.kvHeads, rmsEps: shape.rmsEps, ropeTheta: shape.ropeTheta)
        }
        let table = try matrix("model.embed_tokens.weight", shape.vocabulary, shape.hidden, scale: 0.02)
        let head = shape.tiedEmbeddings ? table : try matrix("lm_head.weight", shape.vocabulary, shape.hidden, scale: 0.02)
        return Qwen2Model(embedding: table, layers: layers, finalNorm: ones(), lmHead: head, rmsEps: shape.rmsEps, ropeTheta: shape.ropeTheta)
    }

    /// Matrix FLOPs of one training step over `batch` sequences of `length` tokens, every token
    /// but the last of each sequence labelled: frozen projections forward and their input gradient (no weight gradient), the
    /// LoRA products forward and backward, causal attention (the visible query-key pairs only),
    /// and the language-model head forward and its input gradient. Checkpointing repeats the
    /// layers' forward.
    public static func matrixFLOPs<T: DecoderScalar>(_ model: Qwen2Model<T>, batch: Int, length: Int, checkpointing: Bool) -> Double {
        let rows = Double(batch * length)
        var forward = 0.0, backward = 0.0
        for layer in model.layers {
            for (_, linear) in layer.projections {
                let weights = Double(linear.inFeatures * linear.outFeatures)
                forward += 2 * rows * weights
                backward += 2 * rows * weights
                if let adapter = linear.adapter {
                    let low = Double(adapter.rank * (linear.inFeatures + linear.outFeatures))
                    forward += 2 * rows * low
                    backward += 4 * rows * low
                }
            }
            let pairs = Double(batch * length * (length + 1) / 2 * layer.heads * layer.headDim)
            forward += 2 * 2 * pairs   // QKᵀ and P·V
            backward += 4 * 2 * pairs  // dP, dV, dQ, dK
        }
        let head = 2 * Double(batch * (length - 1)) * Double(model.hiddenSize * model.vocabulary)
        return forward * (checkpointing ? 2 : 1) + backward + 2 * head
    }

    public struct Result: Sendable {
        /// Seconds of each timed step.
        public var seconds: [Double]
        public var tokensPerStep: Int
        public var flopsPerStep: Double
        public var best: Double { seconds.min() ?? .nan }
        public var tokensPerSecond: Double { Double(tokensPerStep) / best }
        public var gflops: Double { flopsPerStep / best / 1e9 }
    }

    /// Attaches LoRA as `config` says and times `steps` training steps on `device` after `warmUp`
    /// untimed ones, each over one micro-batch of `batch` × `length` random tokens. `afterwards`,
    /// when given, receives the training model and a function that runs one more (untimed) step.
    public static func run(model: Qwen2Model<Float>, config: TrainingConfig, batch: Int, length: Int,
                           steps: Int, warmUp: Int = 1, device: TrainingDevice = .cpu,
                           afterwards: ((any TrainableModel<Float>, () throws -> StepResult) throws -> Void)? = nil) throws -> Result {
        var config = config
        config.microBatchSize = batch
        config.gradientAccumulationSteps = 1
        config.maxSteps = warmUp + steps
        config.validationCount = 0
        var rng = SplitMix64(seed: config.seed)
        let examples = (0..<batch).map { i in
            TrainingExample(recordIndex: i, pieces: [((0..<length).map { _ in Int32(rng.next() % UInt64(model.vocabulary)) }, true)],
                            maxLength: length)
        }
        let data = TrainingData(train: examples, format: .text(field: "text"))
        let trainable = try device.makeModel(model)
        LoRASetup.attach(to: trainable, config: config)
        let trainer = try LoRATrainer(model: trainable, data: data, config: config, padID: 0)
        var seconds: [Double] = []
        for index in 0..<(warmUp + steps) {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try trainer.step()
            if index >= warmUp { seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        }
        try afterwards?(trainable) { try trainer.step() }
        return Result(seconds: seconds, tokensPerStep: batch * length,
                      flopsPerStep: matrixFLOPs(model, batch: batch, length: length, checkpointing: config.gradientCheckpointing))
    }
}
