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
    public let config: TrainingConfig
    public let mode: RunFolder.Mode

    /// The job computes in, and its run records, the matrix precision this machine runs for
    /// `matmul_precision` (auto becomes float32 or bfloat16); bfloat16 on a CPU without it is an
    /// error here, before anything is read.
    public init(config: TrainingConfig, mode: RunFolder.Mode) throws {
        var resolved = config
        resolved.matmulPrecision = .init(try config.matmulPrecision.resolved())
        self.config = resolved; self.mode = mode
    }


    /// The configuration of a run being resumed: the one it was started with, where `requested`
    /// may only differ in keys that do not change the computation (nil: take the saved one as is).
    public static func resumedConfig(saved: TrainingConfig, requested: TrainingConfig?, folder: String) throws -> TrainingConfig {
        guard let requested else { return saved }
        var config = saved
        for key in TrainingConfig.CodingKeys.allCases {
            let old = saved.yamlValue(key), new = requested.yamlValue(key)
            guard old != new else { continue }
            guard TrainingConfig.keys[key]?.resumable == true else {
                throw InputError(file: folder + "/config.yaml", at: "key \(key.rawValue)",
                                 "the run was started with \(old), not \(new); a resumed run keeps its settings (or start again with --overwrite)")
            }
        }
        config.loggingSteps = requested.loggingSteps; config.evalSteps = requested.evalSteps
        config.saveSteps = requested.saveSteps; config.keepCheckpoints = requested.keepCheckpoints
        return config
    }

    /// Everything that can be wrong with the input is checked before the run folder changes: an
    /// earlier run replaced by `--overwrite` comes back if the new one cannot write its first files.
    public func run(observer: TrainingObserver?, stop: StopRequest) throws -> TrainingOutcome {
        let folder = try RunFolder.check(config.resolvedOutputDir, mode: mode)

        let tokenizerPath = config.tokenizer ?? config.model
        let tokenizer = try ModelTokenizer(TokenizerLoader.load(path: tokenizerPath), path: tokenizerPath)
        let data = try TrainingData.load(config.data, config: config, tokenizer: tokenizer)
        observer?.note("data: \(data.summary)")

        let model = try Qwen2Model<Float>.load(path: config.model).model
        let highest = (data.train + data.validation).lazy.flatMap(\.tokens).max() ?? 0
        guard Int(highest) < model.vocabulary else {
            throw InputError(file: tokenizerPath, "the tokenizer produces id \(highest), beyond the model's vocabulary of \(model.vocabulary)")
        }
        try Self.checkAdapterSize(config, model: model)

        // Resuming changes nothing but interrupted checkpoint writes, so it claims the folder first.
        let resumed = mode == .resume ? try folder.begin(.resume) : nil
        let trainer = try prepareTrainer(model: model, data: data, config: config, padID: tokenizer.eosTokenID, folder: folder, observer: observer)
        let trainable = trainer.parameters.reduce(0) { $0 + $1.value.count }
        observer?.note("model: \(config.model), \(model.layers.count) layers, matrix products in \(trainer.matrixPrecision.rawValue); LoRA r \(config.loraR) on \(config.targetModules.joined(separator: ", ")): \(trainable) trainable parameters")

        let start = try resumed ?? folder.begin(mode)
        let metrics: MetricsLog
        do {
            if mode != .resume { try folder.writeRunFiles(config: config, data: data) }
            metrics = try MetricsLog(path: folder.metricsFile, keepThrough: trainer.progress.step)
        } catch {
            start.rollBack()
            throw error
        }
        start.commit()
        if let line = metrics.droppedTornLine {
            observer?.note("warning: \(folder.metricsFile): line \(line) was cut short (the run was killed while writing it) and is dropped")
        }
        let run = TrainingRun(trainer: trainer, folder: folder, metrics: metrics, observer: observer, stop: stop)
        return try run.run()
    }

    public func run(observer: TrainingObserver?, shouldStop: @escaping () -> Bool) throws -> TrainingOutcome {
        try run(observer: observer, stop: StopWhen(shouldStop))
    }

    /// The trainer, resumed from the newest checkpoint that reads back (an unreadable one is
    /// skipped with a warning), or from the start when the run stopped before its first one.
    private func prepareTrainer(model: Qwen2Model<Float>, data: TrainingData, config: TrainingConfig, padID: Int32,
                                folder: RunFolder, observer: TrainingObserver?) throws -> LoRATrainer<Float> {
        guard mode == .resume else { return try LoRATrainer.prepare(model: model, data: data, config: config, padID: padID) }
        let checkpoints = folder.checkpoints
        guard !checkpoints.isEmpty else {
            observer?.note("the run stopped before its first checkpoint: starting it again from step 0")
            return try LoRATrainer.prepare(model: model, data: data, config: config, padID: padID)
        }
        var problems: [String] = []
        for checkpoint in checkpoints.reversed() {
            do {
                let trainer = try LoRATrainer.prepare(model: model, data: data, config: config, padID: padID, resumeFrom: checkpoint.path)
                if !problems.isEmpty { observer?.note("warning: resuming from the older \(checkpoint.path) instead") }
                return trainer
            } catch let error as MedtuneError {
                problems.append("\(error)")
                observer?.note("warning: \(checkpoint.path) cannot be resumed from: \(error)")
            }
        }
        throw InputError(file: folder.path, "no checkpoint can be resumed from (\(problems.first ?? "")); start again with --overwrite")
    }

    /// The adapter's rank against the layers it adapts, and its training state (value, gradient
    /// and two AdamW moments per parameter, float32) against the machine's memory, before any of
    /// it is allocated.
    static func checkAdapterSize(_ config: TrainingConfig, model: some LoRAModel) throws {
        let targets = config.loraSpec.targets.map { (projection: $0, size: model.features(AdapterSite(layer: 0, $0))) }
        func narrowSide(_ size: (inFeatures: Int, outFeatures: Int)) -> Int { min(size.inFeatures, size.outFeatures) }
        if let narrowest = targets.min(by: { narrowSide($0.size) < narrowSide($1.size) }), config.loraR > narrowSide(narrowest.size) {
            throw InputError(at: "key lora_r", "r = \(config.loraR) exceeds \(narrowest.projection.rawValue)'s \(narrowest.size.inFeatures) × \(narrowest.size.outFeatures) (at most \(narrowSide(narrowest.size)): a higher rank adds nothing)")
        }
        let perLayer: Int = targets.reduce(0) { $0 + config.loraR * ($1.size.inFeatures + $1.size.outFeatures) }
        let parameters = model.layerCount * perLayer
        let bytes = UInt64(parameters) * 16
        let memory = ProcessInfo.processInfo.physicalMemory
        if bytes > memory / 2 {
            throw InputError(at: "key lora_r", String(format: "r = %d gives %d trainable parameters, %.1f GB of training state, more than half of this machine's %.1f GB",
                                                      config.loraR, parameters, Double(bytes) / 1e9, Double(memory) / 1e9))
        }
    }
}
