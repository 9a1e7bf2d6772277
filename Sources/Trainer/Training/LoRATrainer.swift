import Dispatch
import MedtuneCore
import Transformer

/// Where a run stands between optimiser steps: everything besides the adapter and optimiser
/// tensors that a resumed run needs to continue exactly as an uninterrupted one.
public struct TrainingProgress: Codable, Equatable, Sendable {
    /// Optimiser steps completed.
    public var step = 0
    /// Source of the per-micro-batch dropout seeds.
    public var rng: SplitMix64
    /// Step losses since the last logged value (the log shows their mean).
    public var intervalLossSum = 0.0
    public var intervalSteps = 0
    public var bestValidationLoss: Double?
    public var bestStep: Int?

    public init(seed: UInt64) { rng = SplitMix64(seed: seed ^ 0xD120_9047) }

    enum CodingKeys: String, CodingKey {
        case step, rng
        case intervalLossSum = "interval_loss_sum"
        case intervalSteps = "interval_steps"
        case bestValidationLoss = "best_validation_loss"
        case bestStep = "best_step"
    }
}

/// What one optimiser step did.
public struct StepResult: Sendable {
    /// The step just completed, from 1.
    public var step: Int
    /// Mean loss per trained token over the step's micro-batches.
    public var loss: Double
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradNorm: Double
    /// Trained tokens and real input tokens of the step.
    public var labelTokens: Int
    public var inputTokens: Int
    public var seconds: Double
    /// Of `seconds`: the forward and backward passes, and the update (clipping and the optimiser).
    public var passSeconds: Double
    public var updateSeconds: Double
}

/// A loss or gradient that is not a finite number: the step was not applied.
public struct NonFiniteError: MedtuneError {
    public var step: Int
    public var loss: Double
    public var gradNorm: Double
    public var description: String {
        let (what, value) = loss.isFinite ? ("gradient norm", gradNorm) : ("loss", loss)
        // NaN's sign is meaningless; print it as plain nan.
        return "step \(step): the \(what) is \(value.isNaN ? "nan" : "\(value)"); training stopped before applying it"
    }
}

/// The optimisation loop over a model whose LoRA adapters are attached: micro-batches,
/// token-weighted gradient accumulation, clipping, the schedule and the optimiser.
///
/// Accumulation divides every micro-batch's loss by the token count of the whole step, so the
/// accumulated gradient is that of one batch holding all the step's records.
public final class LoRATrainer<T: Scalar> {
    public let model: any TrainableModel<T>
    public let data: TrainingData
    public let config: TrainingConfig
    public let padID: Int32
    public let plan: EpochPlan
    public let schedule: LearningRateSchedule
    public let parameters: [TrainableParameter<T>]
    public let optimizer: any Optimizer<T>
    /// Precision of the products with frozen weights: `config.matmulPrecision`, which the job
    /// resolved (`TrainingJob.init`).
    public let matrixPrecision: MatrixPrecision
    public var progress: TrainingProgress
    private var epochOrder: (epoch: Int, order: [Int])?

    public init(model: some TrainableModel<T>, data: TrainingData, config: TrainingConfig, padID: Int32) throws {
        parameters = LoRASetup.parameters(of: model)
        guard !parameters.isEmpty else { throw InputError(at: "key target_modules", "the model has no LoRA adapter to train") }
        self.model = model; self.data = data; self.config = config; self.padID = padID
        guard let precision = config.matmulPrecision.precision else {
            preconditionFailure("a trainer's matmul_precision is resolved before it starts (TrainingJob.init), never auto")
        }
        matrixPrecision = precision
        plan = EpochPlan(examples: data.train.count, microBatchSize: config.microBatchSize,
                         accumulation: config.gradientAccumulationSteps, shuffle: config.shuffle, seed: config.seed)
        let total = config.maxSteps ?? config.epochs * plan.stepsPerEpoch
        schedule = LearningRateSchedule(kind: config.lrScheduler, base: config.learningRate,
                                        warmup: LearningRateSchedule.warmupSteps(count: config.warmupSteps, ratio: config.warmupRatio, total: total),
                                        total: total)
        switch config.optimizer {
        case .adamw: optimizer = AdamW<T>(beta1: config.adamBeta1, beta2: config.adamBeta2, epsilon: config.adamEpsilon, weightDecay: config.weightDecay)
        case .sgd: optimizer = SGD<T>(momentum: config.momentum, weightDecay: config.weightDecay)
        }
        progress = TrainingProgress(seed: config.seed)
    }

    public var totalSteps: Int { schedule.total }
    public var isFinished: Bool { progress.step >= totalSteps }

    /// Fractional epochs completed (HF's `epoch` in its logs).
    public var epoch: Double { Double(progress.step) / Double(plan.stepsPerEpoch) }

    /// The micro-batches of the next step.
    func nextMicroBatches() -> [MicroBatch] {
        let epoch = plan.position(ofStep: progress.step).epoch
        if epochOrder?.epoch != epoch { epochOrder = (epoch, plan.order(epoch: epoch)) }
        return plan.microBatches(ofStep: progress.step, order: epochOrder!.order).map { group in
            MicroBatch(group.map { data.train[$0] }, padID: padID)
        }
    }

    /// One optimiser step. A non-finite loss or gradient throws before anything is updated.
    public func step() throws -> StepResult {
        let start = DispatchTime.now().uptimeNanoseconds
        let batches = nextMicroBatches()
        let labelTotal = batches.reduce(0) { $0 + $1.labelCount }
        for p in parameters { p.zeroGrad() }
        var lossSum = 0.0
        let passStart = DispatchTime.now().uptimeNanoseconds
        for batch in batches {
            let seed = progress.rng.next()
            let result = try model.lossAndGradients(tokens: batch.tokens, labels: batch.labels,
                                                pass: batch.pass(dropoutSeed: config.loraDropout > 0 ? seed : nil, matrixPrecision: matrixPrecision),
                                                gradScale: T(1 / Double(labelTotal)))
            lossSum += result.loss
        }
        let loss = lossSum / Double(labelTotal)
        let updateStart = DispatchTime.now().uptimeNanoseconds
        let learningRate = schedule.rate(at: progress.step)
        let norm = GradientClipping.clip(parameters, maxNorm: config.maxGradNorm)
        guard loss.isFinite, norm.isFinite else { throw NonFiniteError(step: progress.step + 1, loss: loss, gradNorm: norm) }
        optimizer.step(parameters, learningRate: learningRate)
        let end = DispatchTime.now().uptimeNanoseconds
        progress.step += 1
        progress.intervalLossSum += loss
        progress.intervalSteps += 1
        return StepResult(step: progress.step, loss: loss, learningRate: learningRate, gradNorm: norm, labelTokens: labelTotal,
                          inputTokens: batches.reduce(0) { $0 + $1.tokenCount },
                          seconds: Double(end - start) / 1e9, passSeconds: Double(updateStart - passStart) / 1e9,
                          updateSeconds: Double(end - updateStart) / 1e9)
    }

    /// Mean loss per trained token over the validation examples (nil without a validation split).
    public func validationLoss() throws -> Double? {
        guard !data.validation.isEmpty else { return nil }
        var sum = 0.0, count = 0
        for start in stride(from: 0, to: data.validation.count, by: config.microBatchSize) {
            let batch = MicroBatch(Array(data.validation[start..<min(start + config.microBatchSize, data.validation.count)]), padID: padID)
            let result = try model.loss(tokens: batch.tokens, labels: batch.labels, pass: batch.pass(dropoutSeed: nil, matrixPrecision: matrixPrecision))
            sum += result.loss
            count += result.count
        }
        return sum / Double(count)
    }

    /// The mean of the step losses since the last call (nil when no step was taken since).
    public func takeIntervalLoss() -> Double? {
        guard progress.intervalSteps > 0 else { return nil }
        defer { progress.intervalLossSum = 0; progress.intervalSteps = 0 }
        return progress.intervalLossSum / Double(progress.intervalSteps)
    }
}

extension LoRATrainer {
    /// A trainer on `model` with its adapters from, in order of precedence: the checkpoint being
    /// resumed (with the optimiser and progress restored), the configuration's init_adapter, or
    /// PEFT's fresh initialisation.
    public static func prepare(model: some TrainableModel<T>, data: TrainingData, config: TrainingConfig, padID: Int32,
                               resumeFrom checkpoint: String? = nil) throws -> LoRATrainer<T> {
        if let source = checkpoint ?? config.initAdapter {
            try LoRASetup.attach(to: model, config: config, from: source)
        } else {
            LoRASetup.attach(to: model, config: config)
        }
        let trainer = try LoRATrainer(model: model, data: data, config: config, padID: padID)
        if let checkpoint { try Checkpoint.restore(trainer, from: checkpoint) }
        return trainer
    }
}
