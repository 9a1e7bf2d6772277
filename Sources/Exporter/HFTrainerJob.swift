import Trainer

/// job.json: every setting train.py applies, settled by medtune so that the script decides
/// nothing of its own. Paths are relative to the job folder unless absolute.
struct HFTrainerJob: Encodable {
    var engine = ExportEngine.hfTrainer.rawValue
    var name: String
    /// The base model's Hugging Face folder: the user's own (absolute), or `base_model`.
    var baseModel: String
    /// base_model_name_or_path written into the adapter's adapter_config.json.
    var baseModelName: String
    var padTokenID: Int32
    var train = TrainingFiles.train
    var validation = TrainingFiles.validation
    var heldOutIDs = TrainingFiles.heldOutIDs
    var epochOrder = TrainingFiles.epochOrder
    /// medtune's own initial adapter (recipe's init_adapter, or its seeded PEFT initialisation).
    var initAdapter = TrainingFiles.initAdapter
    var recipe = TrainingFiles.recipe
    /// Where train.py writes the run folder (relative to the job folder unless absolute).
    var outputDir: String
    var microBatchSize: Int
    /// The recipe's accumulation with one process; train.py divides it by the process count.
    var gradientAccumulationSteps: Int
    /// Optimiser steps of the whole run and of one epoch (medtune's count: an epoch's last step
    /// may take fewer micro-batches, as HF's Trainer does).
    var maxSteps: Int
    var stepsPerEpoch: Int
    var optimizer: String
    var learningRate: Double
    var adamBeta1: Double
    var adamBeta2: Double
    var adamEpsilon: Double
    var weightDecay: Double
    var momentum: Double
    /// HF's scheduler name: linear, cosine or constant_with_warmup.
    var lrScheduler: String
    var warmupSteps: Int
    var maxGradNorm: Double
    var seed: UInt64
    /// auto (bfloat16 where the GPU has it), float32 (no TF32) or bfloat16 (autocast).
    var precision: String
    var gradientCheckpointing: Bool
    var loggingSteps: Int
    var evalSteps: Int
    var saveSteps: Int
    var keepCheckpoints: Int

    enum CodingKeys: String, CodingKey {
        case engine, name
        case baseModel = "base_model"
        case baseModelName = "base_model_name"
        case padTokenID = "pad_token_id"
        case train, validation
        case heldOutIDs = "heldout_ids"
        case epochOrder = "epoch_order"
        case initAdapter = "init_adapter"
        case recipe
        case outputDir = "output_dir"
        case microBatchSize = "micro_batch_size"
        case gradientAccumulationSteps = "gradient_accumulation_steps"
        case maxSteps = "max_steps"
        case stepsPerEpoch = "steps_per_epoch"
        case optimizer
        case learningRate = "learning_rate"
        case adamBeta1 = "adam_beta1"
        case adamBeta2 = "adam_beta2"
        case adamEpsilon = "adam_epsilon"
        case weightDecay = "weight_decay"
        case momentum
        case lrScheduler = "lr_scheduler"
        case warmupSteps = "warmup_steps"
        case maxGradNorm = "max_grad_norm"
        case seed, precision
        case gradientCheckpointing = "gradient_checkpointing"
        case loggingSteps = "logging_steps"
        case evalSteps = "eval_steps"
        case saveSteps = "save_steps"
        case keepCheckpoints = "keep_checkpoints"
    }

    init(config: TrainingConfig, baseModel: String, padTokenID: Int32, plan: EpochPlan, outputDir: String) {
        name = config.name
        self.baseModel = baseModel
        baseModelName = config.resolvedBaseModelName
        self.padTokenID = padTokenID
        self.outputDir = outputDir
        microBatchSize = config.microBatchSize
        gradientAccumulationSteps = config.gradientAccumulationSteps
        maxSteps = config.maxSteps ?? config.epochs * plan.stepsPerEpoch
        stepsPerEpoch = plan.stepsPerEpoch
        optimizer = config.optimizer.rawValue
        learningRate = config.learningRate
        adamBeta1 = config.adamBeta1; adamBeta2 = config.adamBeta2; adamEpsilon = config.adamEpsilon
        weightDecay = config.weightDecay; momentum = config.momentum
        switch config.lrScheduler {
        case .linear: lrScheduler = "linear"
        case .cosine: lrScheduler = "cosine"
        case .constant: lrScheduler = "constant_with_warmup"
        }
        warmupSteps = LearningRateSchedule.warmupSteps(count: config.warmupSteps, ratio: config.warmupRatio, total: maxSteps)
        maxGradNorm = config.maxGradNorm
        seed = config.seed
        precision = config.matmulPrecision.rawValue
        gradientCheckpointing = config.gradientCheckpointing
        loggingSteps = config.loggingSteps; evalSteps = config.evalSteps
        saveSteps = config.saveSteps; keepCheckpoints = config.keepCheckpoints
    }
}

/// The files of a job folder, relative to it.
enum TrainingFiles {
    static let train = "data/train.jsonl"
    static let validation = "data/validation.jsonl"
    static let heldOutIDs = "data/heldout_ids.json"
    static let epochOrder = "data/epoch_order.json"
    static let initAdapter = "init_adapter"
    static let recipe = "config.yaml"
    static let baseModel = "base_model"
    static let job = "job.json"
    static let script = "train.py"
    static let requirements = "requirements.txt"
    static let launch = "launch.sh"
    static let readme = "README.md"
    static let accelerate = "accelerate"
}
