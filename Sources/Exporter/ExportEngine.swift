import MedtuneCore
import Trainer

/// A training stack a recipe can be exported to.
public enum ExportEngine: String, CaseIterable, Sendable {
    /// Hugging Face Trainer + PEFT, launched by accelerate, torchrun or Slurm.
    case hfTrainer = "hf-trainer"
}

/// How the HF Trainer job carries each recipe key. The switch is exhaustive on purpose: a key
/// added to the recipe does not compile here until someone decides how the engine expresses it,
/// so no key is ever dropped on the way to another stack.
enum HFTrainerKeys {
    enum Carrier {
        /// Applied by medtune before export: the tokenized records, the held-out split, the
        /// epoch order, the base model folder or the initial adapter already embody it.
        case medtune
        /// A setting of job.json that train.py applies.
        case job
        /// Expressible only at its default; the reason says why another value is not.
        case onlyDefault(reason: String)
        /// Decided by the launch: accelerate or torchrun places each process on its own GPU.
        case launcher
    }

    static func carrier(of key: TrainingConfig.CodingKeys) -> Carrier {
        switch key {
        case .model, .tokenizer, .data, .format, .fields, .textField, .promptTemplate, .analysisTemplate, .answerTemplate,
             .addEOS, .lossOn, .offset, .limit, .shuffle, .seed, .validationCount, .validationFraction, .maxLength,
             .skipInvalid, .targetModules, .loraR, .loraAlpha, .useRSLoRA, .initAdapter:
            return .medtune
        case .name, .outputDir, .baseModelName, .loraDropout, .microBatchSize, .gradientAccumulationSteps, .epochs, .maxSteps,
             .optimizer, .learningRate, .adamBeta1, .adamBeta2, .adamEpsilon, .weightDecay, .momentum, .lrScheduler,
             .warmupSteps, .warmupRatio, .maxGradNorm, .gradientCheckpointing, .matmulPrecision, .loggingSteps, .evalSteps,
             .saveSteps, .keepCheckpoints:
            return .job
        case .device, .deviceName:
            return .launcher
        case .earlyStoppingPatience:
            return .onlyDefault(reason: "HF's EarlyStoppingCallback needs load_best_model_at_end, which ends the run on the best adapter instead of the last one as medtune does")
        }
    }

    /// Refuses, by name, the first key whose value the engine cannot express.
    static func check(_ config: TrainingConfig, source: String) throws {
        let defaults = TrainingConfig()
        for key in TrainingConfig.CodingKeys.allCases {
            guard case .onlyDefault(let reason) = carrier(of: key), config.yamlValue(key) != defaults.yamlValue(key) else { continue }
            throw InputError(file: source, at: "key \(key.rawValue)",
                             "the \(ExportEngine.hfTrainer.rawValue) engine cannot express \(config.yamlValue(key)): \(reason); leave the key out to export")
        }
    }
}
