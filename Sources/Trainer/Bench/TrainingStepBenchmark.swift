import Dispatch
import MedtuneCore
import Transformer

/// Times full training steps (forward, backward, clipping, AdamW) on one micro-batch of random
/// tokens, and counts the matrix arithmetic a step needs, so that throughput can be read as a
/// fraction of what the machine's sgemm achieves.
public enum TrainingStepBenchmark {
    /// Dimensions of a Qwen2 decoder.
    public struct Shape: Sendable {
        public var vocabulary: Int, hidden: Int, layers: Int, heads: Int, kvHeads: Int, intermediate: Int
        public var ropeTheta = 1_000_000.0, rmsEps = 1e-6

        /// Qwen2.5-0.5B (and Qwen2.5-Coder-0.5B).
        public static let qwen25HalfB = Shape(vocabulary: 151_936, hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864)

        public var summary: String {
            "\(layers) layers, hidden \(hidden), \(heads) heads, \(kvHeads) KV heads, intermediate \(intermediate), vocabulary \(vocabulary)"
        }
    }

    /// A float32 model with random weights of the given shape (embedding and head tied, as in
    /// Qwen2.5-0.5B), for measuring speed without a model file.
    public static func randomModel(_ shape: Shape, seed: UInt64 = 1) -> Qwen2Model<Float> {
        var rng = SplitMix64(seed: seed)
        func random(_ dims: [Int], scale: Float) -> Tensor<Float> {
            let t = Tensor<Float>(dims)
            for i in 0..<t.count { t[i] = (rng.nextFloat() * 2 - 1) * scale }
            return t
        }
        func ones() -> Tensor<Float> { Tensor([shape.hidden], Array(repeating: 1, count: shape.hidden)) }
        func linear(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = false) -> LoRALinear<Float> {
            LoRALinear(base: DenseMatrix(random([outFeatures, inFeatures], scale: 1 / Float(inFeatures).squareRoot())),
                       bias: bias ? random([outFeatures], scale: 0.02) : nil)
        }
        let headDim = shape.hidden / shape.heads
        let layers = (0..<shape.layers).map { index in
            DecoderLayer<Float>(index: index, inputNorm: ones(), postAttentionNorm: ones(),
                                q: linear(shape.hidden, shape.heads * headDim, bias: true),
                                k: linear(shape.hidden, shape.kvHeads * headDim, bias: true),
                                v: linear(shape.hidden, shape.kvHeads * headDim, bias: true),
                                o: linear(shape.heads * headDim, shape.hidden),
                                gate: linear(shape.hidden, shape.intermediate), up: linear(shape.hidden, shape.intermediate),
                                down: linear(shape.intermediate, shape.hidden),
                                heads: shape.heads, kvHeads: shape.kvHeads, rmsEps: shape.rmsEps, ropeTheta: shape.ropeTheta)
        }
        let table = DenseMatrix(random([shape.vocabulary, shape.hidden], scale: 0.02))
        return Qwen2Model(embedding: table, layers: layers, finalNorm: ones(), lmHead: table, rmsEps: shape.rmsEps, ropeTheta: shape.ropeTheta)
    }

    /// Matrix FLOPs of one training step over `batch` sequences of `length` tokens, every token
    /// but the last of each sequence labelled: frozen projections forward and their input gradient (no weight gradient), the
    /// LoRA products forward and backward, causal attention (the visible query-key pairs only),
    /// and the language-model head forward and its input gradient. Checkpointing repeats the
    /// layers' forward.
    public static func matrixFLOPs<T: Scalar>(_ model: Qwen2Model<T>, batch: Int, length: Int, checkpointing: Bool) -> Double {
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

    /// Attaches LoRA as `config` says and times `steps` training steps after one warm-up step,
    /// each over one micro-batch of `batch` × `length` random tokens.
    public static func run(model: Qwen2Model<Float>, config: TrainingConfig, batch: Int, length: Int, steps: Int) throws -> Result {
        var config = config
        config.microBatchSize = batch
        config.gradientAccumulationSteps = 1
        config.maxSteps = steps + 1
        config.validationCount = 0
        var rng = SplitMix64(seed: config.seed)
        let examples = (0..<batch).map { i in
            TrainingExample(recordIndex: i, pieces: [((0..<length).map { _ in Int32(rng.next() % UInt64(model.vocabulary)) }, true)],
                            maxLength: length)
        }
        let data = TrainingData(train: examples, validation: [], heldOutIndices: [], format: .text(field: "text"),
                                selected: batch, skippedInvalid: 0, truncated: 0, droppedEmpty: 0)
        LoRASetup.attach(to: model, config: config)
        let trainer = try LoRATrainer(model: model, data: data, config: config, padID: 0)
        var seconds: [Double] = []
        for index in 0...steps {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try trainer.step()
            if index > 0 { seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        }
        return Result(seconds: seconds, tokensPerStep: batch * length,
                      flopsPerStep: matrixFLOPs(model, batch: batch, length: length, checkpointing: config.gradientCheckpointing))
    }
}
