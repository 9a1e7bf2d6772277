import Foundation
import MedtuneCore
import Transformer

/// Everything a training run is told, in one place: the YAML recipe, the command-line flags and
/// the resolved `config.yaml` written beside the adapter are all this struct. Each property is
/// one snake_case key (`learning_rate`) and one flag (`--learning-rate`); the defaults below are
/// the documented defaults (see `TrainingConfig.keys`).
///
/// The defaults reproduce the medical fine-tuning tutorial's recipe (LoRA r 16, alpha 32 on
/// q_proj and v_proj, dropout 0.05, micro-batch 2 × accumulation 4, 3 epochs, AdamW at 3e-4,
/// a loss value every 20 steps), except that padding is never trained on.
public struct TrainingConfig: Codable, Equatable, Sendable {
    // Run
    public var name = "run"
    public var outputDir: String?

    // Model
    public var model = ""
    public var tokenizer: String?
    public var baseModelName: String?

    // Data
    public var data = ""
    public var format = DataFormat.auto
    public var fields: [String: String] = ["Question": "Question", "Complex_CoT": "Complex_CoT", "Response": "Response"]
    public var textField = "text"
    public var promptTemplate = "诊断问题：{Question}\n详细分析："
    public var analysisTemplate = "{Complex_CoT}\n###答案：\n"
    public var answerTemplate = "{Response}"
    public var addEOS = true
    public var lossOn = LossScope.all
    public var offset = 0
    public var limit: Int?
    public var shuffle = true
    public var seed: UInt64 = 42
    public var validationCount = 0
    public var validationFraction = 0.0
    public var maxLength = 512
    public var skipInvalid = false

    // LoRA
    public var targetModules = ["q_proj", "v_proj"]
    public var loraR = 16
    public var loraAlpha = 32.0
    public var loraDropout = 0.05
    public var useRSLoRA = false
    public var initAdapter: String?

    // Optimisation
    public var microBatchSize = 2
    public var gradientAccumulationSteps = 4
    public var epochs = 3
    public var maxSteps: Int?
    public var optimizer = OptimizerKind.adamw
    public var learningRate = 3e-4
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    public var adamEpsilon = 1e-8
    public var weightDecay = 0.0
    public var momentum = 0.0
    public var lrScheduler = ScheduleKind.linear
    public var warmupSteps = 0
    public var warmupRatio = 0.0
    public var maxGradNorm = 1.0
    public var gradientCheckpointing = false
    public var matmulPrecision = MatmulPrecision.auto
    public var device = "auto"
    public var deviceName: String?

    // Outputs
    public var loggingSteps = 20
    public var evalSteps = 100
    public var earlyStoppingPatience: Int?
    public var saveSteps = 100
    public var keepCheckpoints = 2

    public init() {}

    public enum DataFormat: String, Codable, Sendable, CaseIterable {
        /// `text` when records carry `text_field` and not the template's first field, else `template`.
        case auto
        /// Records are rendered through prompt/analysis/answer templates.
        case template
        /// Records are raw text (mlx-lm's `{"text": …}`), trained on every token.
        case text
    }

    /// Which tokens of a templated record the loss covers.
    public enum LossScope: String, Codable, Sendable, CaseIterable {
        case all
        /// The analysis, the answer and EOS: everything after the prompt.
        case afterPrompt = "after_prompt"
        /// The answer and EOS.
        case answerOnly = "answer_only"
    }

    public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
        case adamw, sgd
    }

    public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
        case linear, cosine, constant
    }

    /// Precision of the products with frozen weights (see `MatrixPrecision`).
    public enum MatmulPrecision: String, Codable, Sendable, CaseIterable {
        /// bfloat16 where the CPU has AVX-512 BF16, else float32.
        case auto
        case float32
        case bfloat16

        /// The precision this machine runs; bfloat16 on a CPU without it is an error.
        public func resolved() throws -> MatrixPrecision {
            switch self {
            case .auto: return .fastest
            case .float32: return .float32
            case .bfloat16:
                guard MatrixPrecision.bfloat16.isSupported else {
                    throw InputError(at: "key matmul_precision",
                                     "bfloat16 needs a CPU with AVX-512 BF16 (avx512_bf16), which this one lacks; use auto or float32")
                }
                return .bfloat16
            }
        }

        /// The precision a resolved value names; nil for auto, which `resolved()` decides.
        public var precision: MatrixPrecision? {
            switch self {
            case .auto: return nil
            case .float32: return .float32
            case .bfloat16: return .bfloat16
            }
        }

        /// The setting that names `precision`. q8 is an inference precision (8-bit activations
        /// times quantized weights, no transposed products); training with it is float32.
        public init(_ precision: MatrixPrecision) {
            switch precision {
            case .float32, .q8: self = .float32
            case .bfloat16: self = .bfloat16
            }
        }
    }

    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable {
        case name
        case outputDir = "output_dir"
        case model, tokenizer
        case baseModelName = "base_model_name"
        case data, format, fields
        case textField = "text_field"
        case promptTemplate = "prompt_template"
        case analysisTemplate = "analysis_template"
        case answerTemplate = "answer_template"
        case addEOS = "add_eos"
        case lossOn = "loss_on"
        case offset, limit, shuffle, seed
        case validationCount = "validation_count"
        case validationFraction = "validation_fraction"
        case maxLength = "max_length"
        case skipInvalid = "skip_invalid"
        case targetModules = "target_modules"
        case loraR = "lora_r"
        case loraAlpha = "lora_alpha"
        case loraDropout = "lora_dropout"
        case useRSLoRA = "use_rslora"
        case initAdapter = "init_adapter"
        case microBatchSize = "micro_batch_size"
        case gradientAccumulationSteps = "gradient_accumulation_steps"
        case epochs
        case maxSteps = "max_steps"
        case optimizer
        case learningRate = "learning_rate"
        case adamBeta1 = "adam_beta1"
        case adamBeta2 = "adam_beta2"
        case adamEpsilon = "adam_epsilon"
        case weightDecay = "weight_decay"
        case momentum
        case lrScheduler = "lr_scheduler"
        case warmupSteps = "warmup_steps"
        case warmupRatio = "warmup_ratio"
        case maxGradNorm = "max_grad_norm"
        case gradientCheckpointing = "gradient_checkpointing"
        case matmulPrecision = "matmul_precision"
        case device
        case deviceName = "device_name"
        case loggingSteps = "logging_steps"
        case evalSteps = "eval_steps"
        case earlyStoppingPatience = "early_stopping_patience"
        case saveSteps = "save_steps"
        case keepCheckpoints = "keep_checkpoints"
    }

    /// The projections LoRA can adapt, in PEFT's names.
    public static let projectionNames = Projection.allCases.map(\.rawValue)

    /// Where the run writes: `output_dir`, or `data/runs/<name>`.
    public var resolvedOutputDir: String { outputDir ?? "data/runs/\(name)" }

    /// The name PEFT's adapter_config records as the base model: `base_model_name`, or the model
    /// path's last component without a `.gguf` extension.
    public var resolvedBaseModelName: String {
        if let baseModelName { return baseModelName }
        let last = URL(fileURLWithPath: model).lastPathComponent
        return last.hasSuffix(".gguf") ? String(last.dropLast(5)) : last
    }
}
