import Foundation
import MedtuneCore
import Transformer

/// Everything a training run is told, in one place: the YAML recipe, the command-line flags and
/// the resolved `config.yaml` written beside the adapter are all this struct. Each property is
/// one snake_case key (`learning_rate`) and one flag (`--learning-rate`); the defaults below are
/// the documented defaults (see `TrainingConfig.documentation`).
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

        public init(_ precision: MatrixPrecision) {
            switch precision {
            case .float32: self = .float32
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

extension TrainingConfig {
    /// One line per key: what it does. `medtune train --help` and configs/README.md show these.
    public static let documentation: [CodingKeys: String] = [
        .name: "Run name; outputs go to data/runs/<name> unless output_dir is set.",
        .outputDir: "Output folder (default data/runs/<name>). Never overwritten without --resume or --overwrite.",
        .model: "Base model: a GGUF file or a Hugging Face folder (config.json, *.safetensors, tokenizer.json).",
        .tokenizer: "tokenizer.json to use instead of the model's own tokenizer.",
        .baseModelName: "base_model_name_or_path written into adapter_config.json (default: the model file or folder name).",
        .data: "Training data: a JSON array or JSONL file of records.",
        .format: "auto, template (prompt/analysis/answer templates) or text (raw {\"text\": ...} records).",
        .fields: "Template placeholder -> record key, e.g. {Question: question}; unmapped placeholders read the key of the same name.",
        .textField: "Record key holding raw text for format text.",
        .promptTemplate: "Prompt part of a templated record ({Field} placeholders; {{ and }} are literal braces).",
        .analysisTemplate: "Analysis (reasoning) part, after the prompt.",
        .answerTemplate: "Answer part, after the analysis; EOS follows when add_eos.",
        .addEOS: "Append the tokenizer's EOS token to every record.",
        .lossOn: "Tokens the loss covers: all, after_prompt (analysis + answer) or answer_only. Padding never counts.",
        .offset: "Records skipped at the start of the data file.",
        .limit: "Records used after offset (default: all).",
        .shuffle: "Shuffle the training records each epoch (seeded).",
        .seed: "Seed of the shuffle, the validation split, LoRA initialisation and dropout.",
        .validationCount: "Records held out for validation (exclusive with validation_fraction).",
        .validationFraction: "Fraction of records held out for validation, in [0, 1).",
        .maxLength: "Tokens per record; longer records are truncated (and counted in the log).",
        .skipInvalid: "Skip (and count) records missing a field instead of stopping with an error.",
        .targetModules: "Projections given LoRA adapters: any of q_proj k_proj v_proj o_proj gate_proj up_proj down_proj.",
        .loraR: "LoRA rank r.",
        .loraAlpha: "LoRA alpha; the update is scaled by alpha / r (alpha / sqrt(r) with use_rslora).",
        .loraDropout: "Dropout on the LoRA input during training, in [0, 1).",
        .useRSLoRA: "Rank-stabilised LoRA scaling alpha / sqrt(r).",
        .initAdapter: "Start from this PEFT adapter folder instead of PEFT's initialisation (A Kaiming-uniform, B zero).",
        .microBatchSize: "Records per forward/backward pass.",
        .gradientAccumulationSteps: "Micro-batches per optimiser step; the loss is averaged over all their tokens.",
        .epochs: "Passes over the training records (ignored when max_steps is set).",
        .maxSteps: "Optimiser steps to run (default: epochs × steps per epoch).",
        .optimizer: "adamw (PyTorch AdamW) or sgd (PyTorch SGD with optional momentum).",
        .learningRate: "Peak learning rate.",
        .adamBeta1: "AdamW beta1.",
        .adamBeta2: "AdamW beta2.",
        .adamEpsilon: "AdamW epsilon.",
        .weightDecay: "Weight decay (decoupled for AdamW, added to the gradient for SGD).",
        .momentum: "SGD momentum.",
        .lrScheduler: "linear, cosine or constant, each after a linear warm-up (HF transformers' schedules).",
        .warmupSteps: "Warm-up steps.",
        .warmupRatio: "Warm-up as a fraction of all steps (rounded up); used when warmup_steps is 0.",
        .maxGradNorm: "Clip gradients to this global L2 norm (0 disables).",
        .gradientCheckpointing: "Recompute each layer during backward instead of keeping its activations.",
        .matmulPrecision: "Products with the frozen weights in float32, or in bfloat16 (entries rounded to bf16, sums in float32; needs AVX-512 BF16, about 1.6x the speed of float32 sgemm); auto: bfloat16 where the CPU has it. The run's config.yaml records the one used.",
        .loggingSteps: "Log the mean training loss every this many steps.",
        .evalSteps: "Compute the validation loss every this many steps and at the end (0: only at the end).",
        .earlyStoppingPatience: "Stop when this many evaluations in a row bring no lower validation loss than the best so far (HF's EarlyStoppingCallback; default: never). The adapter saved is the last state; checkpoint-best holds the best.",
        .saveSteps: "Write a checkpoint every this many steps (0: only at the end and on interrupt).",
        .keepCheckpoints: "Step checkpoints kept (the newest); the best by validation loss is kept as well.",
    ]
}
