import MedtuneCore
import Records
import Yams

/// Everything about one recipe key besides its name (the CodingKey): the property it sets, what it
/// means, whether a flag's value is literal text, whether a resumed run may change it, and what a
/// valid value is.
public struct RecipeKey: Sendable {
    /// One line: what the key does (`medtune train --help`, configs/README.md).
    public let doc: String
    /// A flag gives the value literally (a template such as `{Question}…` is not YAML syntax).
    public let text: Bool
    /// A resumed run may change it: it decides what is logged and saved, not what is computed.
    public let resumable: Bool
    /// The value is a list, which a flag may also give as `a,b,c`.
    let isList: Bool
    /// Sets the key's property from its YAML value.
    let assign: @Sendable (inout TrainingConfig, Node) throws(RecipeValueError) -> Void
    /// What is wrong with the key's value in `config`, if anything.
    let problem: @Sendable (TrainingConfig) -> String?

    init<Value: RecipeValue>(_ property: WritableKeyPath<TrainingConfig, Value>, _ doc: String, text: Bool = false, resumable: Bool = false,
                             problem: @escaping @Sendable (TrainingConfig) -> String? = { _ in nil }) {
        // Key paths to stored properties of a Sendable struct are safe to share.
        nonisolated(unsafe) let property = property
        assign = { (config: inout TrainingConfig, node: Node) throws(RecipeValueError) in config[keyPath: property] = try Value(yaml: node) }
        isList = Value.self == [String].self
        self.doc = doc; self.text = text; self.resumable = resumable; self.problem = problem
    }
}

/// Infinity and NaN pass comparisons such as `> 0`, so a number is first checked to be finite.
private func number(_ value: Double, _ valid: (Double) -> Bool, _ message: String) -> String? {
    guard value.isFinite else { return "must be a finite number, got \(value)" }
    return valid(value) ? nil : message
}

private func atLeast(_ value: Int?, _ minimum: Int) -> String? {
    guard let value, value < minimum else { return nil }
    return "must be at least \(minimum)"
}

private func notNegative(_ value: Int) -> String? { value < 0 ? "must not be negative" : nil }

private func template(_ text: String) -> String? {
    do { _ = try RecordTemplate(text); return nil } catch let error as InputError { return error.message } catch { return "\(error)" }
}

extension TrainingConfig {
    /// The table of recipe keys, one row each.
    public static let keys: [CodingKeys: RecipeKey] = [
        .name: RecipeKey(\.name, "Run name; outputs go to data/runs/<name> unless output_dir is set.", text: true) {
            $0.name.isEmpty || $0.name.contains("/") ? "must be a non-empty name without '/'" : nil
        },
        .outputDir: RecipeKey(\.outputDir, "Output folder (default data/runs/<name>). Never overwritten without --resume or --overwrite.", text: true),
        .model: RecipeKey(\.model, "Base model: a GGUF file or a Hugging Face folder (config.json, *.safetensors, tokenizer.json).", text: true) {
            $0.model.isEmpty ? "no model given (a GGUF file or a Hugging Face folder)" : nil
        },
        .tokenizer: RecipeKey(\.tokenizer, "tokenizer.json to use instead of the model's own tokenizer.", text: true),
        .baseModelName: RecipeKey(\.baseModelName, "base_model_name_or_path written into adapter_config.json (default: the model file or folder name).", text: true),
        .data: RecipeKey(\.data, "Training data: a JSON array or JSONL file of records.", text: true) {
            $0.data.isEmpty ? "no training data given (a JSON or JSONL file)" : nil
        },
        .format: RecipeKey(\.format, "auto, template (prompt/analysis/answer templates) or text (raw {\"text\": ...} records)."),
        .fields: RecipeKey(\.fields, "Template placeholder -> record key, e.g. {Question: question}; unmapped placeholders read the key of the same name."),
        .textField: RecipeKey(\.textField, "Record key holding raw text for format text.", text: true),
        .promptTemplate: RecipeKey(\.promptTemplate, "Prompt part of a templated record ({Field} placeholders; {{ and }} are literal braces).", text: true) {
            template($0.promptTemplate)
        },
        .analysisTemplate: RecipeKey(\.analysisTemplate, "Analysis (reasoning) part, after the prompt.", text: true) { template($0.analysisTemplate) },
        .answerTemplate: RecipeKey(\.answerTemplate, "Answer part, after the analysis; EOS follows when add_eos.", text: true) { template($0.answerTemplate) },
        .addEOS: RecipeKey(\.addEOS, "Append the tokenizer's EOS token to every record."),
        .lossOn: RecipeKey(\.lossOn, "Tokens the loss covers: all, after_prompt (analysis + answer) or answer_only. Padding never counts."),
        .offset: RecipeKey(\.offset, "Records skipped at the start of the data file.") { notNegative($0.offset) },
        .limit: RecipeKey(\.limit, "Records used after offset (default: all).") { atLeast($0.limit, 1) },
        .shuffle: RecipeKey(\.shuffle, "Shuffle the training records each epoch (seeded)."),
        .seed: RecipeKey(\.seed, "Seed of the shuffle, the validation split, LoRA initialisation and dropout."),
        .validationCount: RecipeKey(\.validationCount, "Records held out for validation (exclusive with validation_fraction).") { notNegative($0.validationCount) },
        .validationFraction: RecipeKey(\.validationFraction, "Fraction of records held out for validation, in [0, 1).") { config in
            number(config.validationFraction, { $0 >= 0 && $0 < 1 }, "must be in [0, 1)")
                ?? (config.validationCount > 0 && config.validationFraction > 0 ? "give validation_count or validation_fraction, not both" : nil)
        },
        .maxLength: RecipeKey(\.maxLength, "Tokens per record; longer records are truncated (and counted in the log).") { atLeast($0.maxLength, 2) },
        .skipInvalid: RecipeKey(\.skipInvalid, "Skip (and count) records missing a field instead of stopping with an error."),
        .targetModules: RecipeKey(\.targetModules, "Projections given LoRA adapters: any of q_proj k_proj v_proj o_proj gate_proj up_proj down_proj.") { config in
            if config.targetModules.isEmpty { return "names no module" }
            if let unknown = config.targetModules.first(where: { !projectionNames.contains($0) }) {
                return "unknown module '\(unknown)' (expected any of \(projectionNames.joined(separator: ", ")))"
            }
            return Set(config.targetModules).count != config.targetModules.count ? "names a module twice" : nil
        },
        .loraR: RecipeKey(\.loraR, "LoRA rank r.") { $0.loraR <= 0 ? "must be a positive integer, got \($0.loraR)" : nil },
        .loraAlpha: RecipeKey(\.loraAlpha, "LoRA alpha; the update is scaled by alpha / r (alpha / sqrt(r) with use_rslora).") {
            number($0.loraAlpha, { $0 > 0 }, "must be positive, got \($0.loraAlpha)")
        },
        .loraDropout: RecipeKey(\.loraDropout, "Dropout on the LoRA input during training, in [0, 1).") {
            number($0.loraDropout, { $0 >= 0 && $0 < 1 }, "must be in [0, 1), got \($0.loraDropout)")
        },
        .useRSLoRA: RecipeKey(\.useRSLoRA, "Rank-stabilised LoRA scaling alpha / sqrt(r)."),
        .initAdapter: RecipeKey(\.initAdapter, "Start from this PEFT adapter folder instead of PEFT's initialisation (A Kaiming-uniform, B zero).", text: true),
        .microBatchSize: RecipeKey(\.microBatchSize, "Records per forward/backward pass.") { atLeast($0.microBatchSize, 1) },
        .gradientAccumulationSteps: RecipeKey(\.gradientAccumulationSteps, "Micro-batches per optimiser step; the loss is averaged over all their tokens.") {
            atLeast($0.gradientAccumulationSteps, 1)
        },
        .epochs: RecipeKey(\.epochs, "Passes over the training records (ignored when max_steps is set).") { $0.maxSteps == nil ? atLeast($0.epochs, 1) : nil },
        .maxSteps: RecipeKey(\.maxSteps, "Optimiser steps to run (default: epochs × steps per epoch).") { atLeast($0.maxSteps, 1) },
        .optimizer: RecipeKey(\.optimizer, "adamw (PyTorch AdamW) or sgd (PyTorch SGD with optional momentum)."),
        .learningRate: RecipeKey(\.learningRate, "Peak learning rate.") { number($0.learningRate, { $0 > 0 }, "must be positive, got \($0.learningRate)") },
        .adamBeta1: RecipeKey(\.adamBeta1, "AdamW beta1.") { number($0.adamBeta1, { $0 >= 0 && $0 < 1 }, "must be in [0, 1)") },
        .adamBeta2: RecipeKey(\.adamBeta2, "AdamW beta2.") { number($0.adamBeta2, { $0 >= 0 && $0 < 1 }, "must be in [0, 1)") },
        .adamEpsilon: RecipeKey(\.adamEpsilon, "AdamW epsilon.") { number($0.adamEpsilon, { $0 > 0 }, "must be positive") },
        .weightDecay: RecipeKey(\.weightDecay, "Weight decay (decoupled for AdamW, added to the gradient for SGD).") {
            number($0.weightDecay, { $0 >= 0 }, "must not be negative")
        },
        .momentum: RecipeKey(\.momentum, "SGD momentum.") { number($0.momentum, { $0 >= 0 && $0 < 1 }, "must be in [0, 1)") },
        .lrScheduler: RecipeKey(\.lrScheduler, "linear, cosine or constant, each after a linear warm-up (HF transformers' schedules)."),
        .warmupSteps: RecipeKey(\.warmupSteps, "Warm-up steps.") { notNegative($0.warmupSteps) },
        .warmupRatio: RecipeKey(\.warmupRatio, "Warm-up as a fraction of all steps (rounded up); used when warmup_steps is 0.") {
            number($0.warmupRatio, { $0 >= 0 && $0 < 1 }, "must be in [0, 1)")
        },
        .maxGradNorm: RecipeKey(\.maxGradNorm, "Clip gradients to this global L2 norm (0 disables).") {
            number($0.maxGradNorm, { $0 >= 0 }, "must not be negative (0 disables clipping)")
        },
        .gradientCheckpointing: RecipeKey(\.gradientCheckpointing, "Recompute each layer during backward instead of keeping its activations."),
        .matmulPrecision: RecipeKey(\.matmulPrecision, "Products with the frozen weights in float32, or in bfloat16 (entries rounded to bf16, sums in float32; needs AVX-512 BF16, about 1.6x the speed of float32 sgemm); auto: bfloat16 where the CPU has it. The run's config.yaml records the one used."),
        .device: RecipeKey(\.device, "Where the run computes: cpu, cuda or cuda:N (an NVIDIA GPU: bfloat16 weights and activations, float32 with matmul_precision float32), or auto (GPU 0 when one works, else the CPU). The run's config.yaml records the one used; a resumed run may move to another.", text: true, resumable: true) { config in
            (try? DeviceChoice(parsing: config.device)) == nil ? "expected auto, cpu, cuda or cuda:N, got '\(config.device)'" : nil
        },
        .deviceName: RecipeKey(\.deviceName, "Recorded by the run: the GPU it started on (a recipe's value is replaced).", text: true, resumable: true),
        .loggingSteps: RecipeKey(\.loggingSteps, "Log the mean training loss every this many steps.", resumable: true) { atLeast($0.loggingSteps, 1) },
        .evalSteps: RecipeKey(\.evalSteps, "Compute the validation loss every this many steps and at the end (0: only at the end).", resumable: true) {
            notNegative($0.evalSteps)
        },
        .earlyStoppingPatience: RecipeKey(\.earlyStoppingPatience, "Stop when this many evaluations in a row bring no lower validation loss than the best so far (HF's EarlyStoppingCallback; default: never). The adapter saved is the last state; checkpoint-best holds the best.") { config in
            atLeast(config.earlyStoppingPatience, 1)
                ?? (config.earlyStoppingPatience != nil && config.validationCount == 0 && config.validationFraction == 0
                    ? "needs a validation split (validation_count or validation_fraction)" : nil)
        },
        .saveSteps: RecipeKey(\.saveSteps, "Write a checkpoint every this many steps (0: only at the end and on interrupt).", resumable: true) { notNegative($0.saveSteps) },
        .keepCheckpoints: RecipeKey(\.keepCheckpoints, "Step checkpoints kept (the newest); the best by validation loss is kept as well.", resumable: true) {
            atLeast($0.keepCheckpoints, 1)
        },
    ]

    /// The row of `key`: every key has one.
    static func row(_ key: CodingKeys) -> RecipeKey {
        guard let row = keys[key] else { preconditionFailure("recipe key \(key.rawValue) has no row in TrainingConfig.keys") }
        return row
    }

    /// Range and consistency checks, key by key in the recipe's order, so that a bad value stops
    /// the run before any work.
    public func validate(source: String = "config") throws {
        for key in CodingKeys.allCases {
            if let problem = Self.row(key).problem(self) { throw InputError(file: source, at: "key \(key.rawValue)", problem) }
        }
    }
}
