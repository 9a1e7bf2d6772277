import Foundation
import MedtuneCore
import Transformer

/// What a run reports as it goes (the console progress bar, or nothing in tests).
public protocol TrainingObserver: AnyObject {
    func started(totalSteps: Int, at step: Int)
    func stepped(_ result: StepResult, totalSteps: Int)
    func logged(_ record: MetricsRecord)
    func note(_ message: String)
}

public enum TrainingOutcome: Equatable, Sendable {
    case finished(step: Int)
    /// Stopped on request; the checkpoint holds everything needed to continue.
    case interrupted(step: Int, checkpoint: String)
}

/// A non-finite loss or gradient stopped the run; the last good state was kept.
public struct TrainingStopped: MedtuneError {
    public var cause: NonFiniteError
    public var checkpoint: String?
    public var description: String {
        cause.description + (checkpoint.map { "; the last good state is in \($0) (--resume continues from it)" } ?? "")
    }
}

/// Drives a trainer to the end of its schedule with the run's outputs: metrics.jsonl, periodic
/// and best checkpoints, the loss curve, and the final adapter in the run folder. Stop requests
/// are honoured between steps by writing a checkpoint.
public final class TrainingRun<T: Scalar> {
    public let trainer: LoRATrainer<T>
    public let folder: RunFolder
    public let metrics: MetricsLog
    public var observer: TrainingObserver?
    let shouldStop: () -> Bool
    private var savedStep: Int?
    private var intervalTokens = 0
    private var intervalSeconds = 0.0

    public init(trainer: LoRATrainer<T>, folder: RunFolder, metrics: MetricsLog, observer: TrainingObserver? = nil,
                shouldStop: @escaping () -> Bool = { false }) {
        self.trainer = trainer; self.folder = folder; self.metrics = metrics; self.observer = observer; self.shouldStop = shouldStop
        if folder.checkpoints.last?.step == trainer.progress.step { savedStep = trainer.progress.step }
    }

    var config: TrainingConfig { trainer.config }

    public func run() throws -> TrainingOutcome {
        observer?.started(totalSteps: trainer.totalSteps, at: trainer.progress.step)
        // The untrained model's validation loss, the baseline of the curve (not a candidate for best).
        if trainer.progress.step == 0, !metrics.records.contains(where: { $0.step == 0 }), let baseline = trainer.validationLoss() {
            let entry = MetricsRecord(step: 0, epoch: 0, valLoss: baseline)
            try metrics.append(entry)
            observer?.logged(entry)
        }
        while !trainer.isFinished {
            if shouldStop() {
                let path = try saveCheckpoint()
                return .interrupted(step: trainer.progress.step, checkpoint: path)
            }
            let result: StepResult
            do {
                result = try trainer.step()
            } catch let error as NonFiniteError {
                // Nothing of the failed step was applied, so the current state is the last good one
                // (checked, in case the adapters themselves went bad).
                let finite = trainer.parameters.allSatisfy { $0.value.buffer.allSatisfy(\.isFinite) }
                let path = savedStep == trainer.progress.step || !finite ? folder.checkpoints.last?.path : try saveCheckpoint()
                throw TrainingStopped(cause: error, checkpoint: path)
            }
            observer?.stepped(result, totalSteps: trainer.totalSteps)
            try record(result)
        }
        if savedStep != trainer.progress.step { try saveCheckpoint() }
        try PEFTAdapter.save(trainer.model, baseModelNameOrPath: config.resolvedBaseModelName, to: folder.path)
        try writeLossCurve()
        return .finished(step: trainer.progress.step)
    }

    /// Logging, evaluation and checkpoints after a step, each on its own cadence.
    private func record(_ result: StepResult) throws {
        let step = result.step, last = trainer.isFinished
        intervalTokens += result.inputTokens
        intervalSeconds += result.seconds
        var entry: MetricsRecord?
        if step % config.loggingSteps == 0 || last, let loss = trainer.takeIntervalLoss() {
            entry = MetricsRecord(step: step, epoch: trainer.epoch, loss: loss, learningRate: result.learningRate, gradNorm: result.gradNorm,
                                  tokensPerSecond: Double(intervalTokens) / max(intervalSeconds, 1e-9))
            intervalTokens = 0
            intervalSeconds = 0
        }
        var improved = false
        if (config.evalSteps > 0 && step % config.evalSteps == 0) || last, let validation = trainer.validationLoss() {
            var withValidation = entry ?? MetricsRecord(step: step, epoch: trainer.epoch)
            withValidation.valLoss = validation
            entry = withValidation
            if trainer.progress.bestValidationLoss.map({ validation < $0 }) ?? true {
                trainer.progress.bestValidationLoss = validation
                trainer.progress.bestStep = step
                improved = true
            }
        }
        if let entry {
            try metrics.append(entry)
            observer?.logged(entry)
        }
        if config.saveSteps > 0 && step % config.saveSteps == 0 { try saveCheckpoint() }
        if improved { try Checkpoint.write(trainer, to: folder.bestCheckpoint) }
    }

    /// Writes checkpoint-<step>, drops the oldest beyond keep_checkpoints, refreshes the curve.
    @discardableResult
    private func saveCheckpoint() throws -> String {
        let path = folder.checkpoint(step: trainer.progress.step)
        try Checkpoint.write(trainer, to: path)
        savedStep = trainer.progress.step
        for old in folder.checkpoints.dropLast(config.keepCheckpoints) { try? FileManager.default.removeItem(atPath: old.path) }
        try writeLossCurve()
        observer?.note("saved \(path)")
        return path
    }

    private func writeLossCurve() throws {
        let curve = LossCurve(records: metrics.records, title: "\(config.name): loss by step")
        try AtomicFile.write(Data(curve.svg().utf8), to: folder.lossCurveSVG)
        try AtomicFile.write(curve.png(), to: folder.lossCurvePNG)
    }
}
