import Foundation
import MedtuneCore
import Tokenizers
import Transformer

/// A model's own tokenizer as training uses it: special-token text in templates (`<|im_start|>`,
/// `<｜User｜>`) becomes the special token; each record starts with BOS when the tokenizer puts
/// one before every text (DeepSeek-R1-Distill does, Qwen2.5 does not), as HF's tokenizer(text) does.
public struct ModelTokenizer: TrainingTokenizer {
    public let base: any Tokenizer
    public let eosTokenID: Int32
    public let bosTokenID: Int32?

    public init(_ base: any Tokenizer, path: String) throws {
        guard let eos = base.eosTokenId ?? base.padTokenId else {
            throw InputError(file: path, "the tokenizer names no EOS token")
        }
        self.base = base
        eosTokenID = Int32(eos)
        let wrapped = base.encode("", allowSpecial: false, addSpecialTokens: true)
        bosTokenID = wrapped.count == 1 && wrapped[0] == base.bosTokenId ? Int32(wrapped[0]) : nil
    }

    public func encode(_ text: String) throws -> [Int32] {
        base.encode(text, allowSpecial: true, addSpecialTokens: false).map { Int32($0) }
    }
}

/// `medtune train` end to end: checks the configuration and the output folder, reads and
/// tokenizes the data, loads the model, attaches (or restores) the adapters, and runs.
/// Everything that can be wrong with the input is reported before the first step.
public struct TrainingJob {
    public var config: TrainingConfig
    public var mode: RunFolder.Mode

    public init(config: TrainingConfig, mode: RunFolder.Mode) {
        self.config = config; self.mode = mode
    }

    /// Keys a resumed run may change: they decide what is logged and saved, not what is computed.
    public static let resumeAdjustable: Set<TrainingConfig.CodingKeys> = [.loggingSteps, .evalSteps, .saveSteps, .keepCheckpoints]

    /// The configuration of a run being resumed: the one it was started with, where `requested`
    /// may only differ in keys that do not change the computation (nil: take the saved one as is).
    public static func resumedConfig(saved: TrainingConfig, requested: TrainingConfig?, folder: String) throws -> TrainingConfig {
        guard let requested else { return saved }
        var config = saved
        for key in TrainingConfig.CodingKeys.allCases {
            let old = saved.yamlValue(key), new = requested.yamlValue(key)
            guard old != new else { continue }
            guard resumeAdjustable.contains(key) else {
                throw InputError(file: folder + "/config.yaml", at: "key \(key.rawValue)",
                                 "the run was started with \(old), not \(new); a resumed run keeps its settings (or start again with --overwrite)")
            }
        }
        config.loggingSteps = requested.loggingSteps; config.evalSteps = requested.evalSteps
        config.saveSteps = requested.saveSteps; config.keepCheckpoints = requested.keepCheckpoints
        return config
    }

    public func run(observer: TrainingObserver?, shouldStop: @escaping () -> Bool) throws -> TrainingOutcome {
        // The run records the precision it computes in, not `auto`.
        var config = self.config
        config.matmulPrecision = .init(try config.matmulPrecision.resolved())
        let folder = try RunFolder.prepare(config.resolvedOutputDir, mode: mode)
        let checkpoint = mode == .resume ? folder.checkpoints.last?.path : nil

        let tokenizerPath = config.tokenizer ?? config.model
        let tokenizer = try ModelTokenizer(TokenizerLoader.load(path: tokenizerPath), path: tokenizerPath)
        let data = try TrainingData.load(config.data, config: config, tokenizer: tokenizer)
        observer?.note("data: \(data.summary)")

        let model = try Qwen2Model<Float>.load(path: config.model).model
        let highest = (data.train + data.validation).lazy.flatMap(\.tokens).max() ?? 0
        guard Int(highest) < model.vocabulary else {
            throw InputError(file: tokenizerPath, "the tokenizer produces id \(highest), beyond the model's vocabulary of \(model.vocabulary)")
        }
        let trainer = try LoRATrainer.prepare(model: model, data: data, config: config, padID: tokenizer.eosTokenID, resumeFrom: checkpoint)
        let trainable = trainer.parameters.reduce(0) { $0 + $1.value.count }
        observer?.note("model: \(config.model), \(model.layers.count) layers, matrix products in \(trainer.matrixPrecision.rawValue); LoRA r \(config.loraR) on \(config.targetModules.joined(separator: ", ")): \(trainable) trainable parameters")
        if mode != .resume { try folder.writeRunFiles(config: config, data: data) }
        let metrics = try MetricsLog(path: folder.metricsFile, keepThrough: trainer.progress.step)
        let run = TrainingRun(trainer: trainer, folder: folder, metrics: metrics, observer: observer, shouldStop: shouldStop)
        return try run.run()
    }
}
