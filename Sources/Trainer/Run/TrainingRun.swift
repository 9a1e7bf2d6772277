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

/// A non-finite loss, gradient or parameter stopped the run; the last good state was kept.
public struct TrainingStopped: MedtuneError {
    public var cause: String
    public var checkpoint: String?
    public var description: String {
        cause + "; " + (checkpoint.map { "the last good state is in \($0) (--resume continues from it)" }
                        ?? "no checkpoint with finite parameters was written (lower the learning rate and start again with --overwrite)")
    }
}

/// How a run learns that it should stop between steps, and how it keeps an immediate exit (a
/// second Ctrl-C) from cutting a checkpoint in half.
public protocol StopRequest: AnyObject {
    var isRaised: Bool { get }
    /// Runs `body` with any immediate exit held off until it returns.
    func shielding<R>(_ body: () throws -> R) rethrows -> R
}

extension StopRequest {
    public func shielding<R>(_ body: () throws -> R) rethrows -> R { try body() }
}

/// A stop request that is a condition (tests stop a run at a chosen step this way).
public final class StopWhen: StopRequest {
    let condition: () -> Bool
    public init(_ condition: @escaping () -> Bool) { self.condition = condition }
    public var isRaised: Bool { condition() }
}

/// Drives a trainer to the end of its schedule with the run's outputs: metrics.jsonl, periodic
/// and best checkpoints, the loss curve, and the final adapter in the run folder. Stop requests
/// are honoured between steps by writing a checkpoint.
public final class TrainingRun<T: Scalar> {
    public let trainer: LoRATrainer<T>
    public let folder: RunFolder
    public let metrics: MetricsLog
    public var observer: TrainingObserver?
    let stop: StopRequest
    private var savedStep: Int?
    private var divergence: DivergenceWatch
    private var intervalTokens = 0
    private var intervalSeconds = 0.0

    public init(trainer: LoRATrainer<T>, folder: RunFolder, metrics: MetricsLog, observer: TrainingObserver? = nil,
                stop: StopRequest = StopWhen { false }) {
        self.trainer = trainer; self.folder = folder; self.metrics = metrics; self.observer = observer; self.stop = stop
        divergence = DivergenceWatch(vocabulary: trainer.model.vocabulary)
        if folder.checkpoints.last?.step == trainer.progress.step { savedStep = trainer.progress.step }
    }

    public convenience init(trainer: LoRATrainer<T>, folder: RunFolder, metrics: MetricsLog, observer: TrainingObserver? = nil,
                            shouldStop: @escaping () -> Bool) {
        self.init(trainer: trainer, folder: folder, metrics: metrics, observer: observer, stop: StopWhen(shouldStop))
    }

    var config: TrainingConfig { trainer.config }

    public func run() throws -> TrainingOutcome {
        observer?.started(totalSteps: trainer.totalSteps, at: trainer.progress.step)
        // The untrained model's validation loss, the baseline of the curve (not a candidate for best).
        if trainer.progress.step == 0, !metrics.records.contains(where: { $0.step == 0 }), let baseline = try trainer.validationLoss() {
            let entry = MetricsRecord(step: 0, epoch: 0, valLoss: baseline)
            try metrics.append(entry)
            observer?.logged(entry)
        }
        while !trainer.isFinished {
            if stop.isRaised {
                let path = try saveCheckpoint()
                return .interrupted(step: trainer.progress.step, checkpoint: path)
            }
            let result: StepResult
            do {
                result = try trainer.step()
            } catch {
                // A non-finite step, or a device that failed during it (out of GPU memory): nothing
                // of the step was applied, so the current state is the last good one, unless the
                // adapters themselves went bad (saveCheckpoint checks).
                let path = savedStep == trainer.progress.step ? folder.checkpoints.last?.path : try? saveCheckpoint()
                throw TrainingStopped(cause: "\(error)", checkpoint: path ?? folder.checkpoints.last?.path)
            }
            observer?.stepped(result, totalSteps: trainer.totalSteps)
            if let warning = divergence.observe(loss: result.loss, step: result.step) { observer?.note(warning) }
            if try record(result) { break }
        }
        if savedStep != trainer.progress.step { try saveCheckpoint() }
        try stop.shielding {
            try PEFTAdapter.save(trainer.model, baseModelNameOrPath: config.resolvedBaseModelName, to: folder.path)
            try writeLossCurve()
        }
        return .finished(step: trainer.progress.step)
    }

    /// Logging, evaluation and checkpoints after a step, each on its own cadence. Returns true
    /// when early stopping ends the run here.
    private func record(_ result: StepResult) throws -> Bool {
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
        var improved = false, stopEarly = false
        if (config.evalSteps > 0 && step % config.evalSteps == 0) || last, let validation = try trainer.validationLoss() {
            var withValidation = entry ?? MetricsRecord(step: step, epoch: trainer.epoch)
            withValidation.valLoss = validation
            if trainer.progress.bestValidationLoss.map({ validation < $0 }) ?? true {
                trainer.progress.bestValidationLoss = validation
                trainer.progress.bestStep = step
                improved = true
            } else if let patience = config.earlyStoppingPatience, evaluationsSinceBest + 1 >= patience, !last {
                withValidation.earlyStop = true
                stopEarly = true
            }
            entry = withValidation
        }
        if let entry {
            try metrics.append(entry)
            observer?.logged(entry)
        }
        if stopEarly {
            observer?.note("early stopping: the validation loss has not improved on \(Self.format(trainer.progress.bestValidationLoss)) (step \(trainer.progress.bestStep ?? 0)) in \(evaluationsSinceBest) evaluations")
        }
        if config.saveSteps > 0 && step % config.saveSteps == 0 { try saveCheckpoint() }
        if improved { try writeCheckpoint(to: folder.bestCheckpoint) }
        return stopEarly
    }

    /// Validation losses logged after the best one (the step-0 baseline is never a candidate).
    private var evaluationsSinceBest: Int {
        let best = trainer.progress.bestStep ?? 0
        return metrics.records.filter { $0.valLoss != nil && $0.step > best }.count
    }

    private static func format(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "?" }

    /// A checkpoint is written only from finite parameters, so every checkpoint in the folder is
    /// a state training can continue from; a non-finite parameter stops the run at the last one.
    private func writeCheckpoint(to path: String) throws {
        guard trainer.parameters.allSatisfy({ $0.value.buffer.allSatisfy(\.isFinite) }) else {
            throw TrainingStopped(cause: "step \(trainer.progress.step): the LoRA parameters are no longer finite numbers (the learning rate is likely too high)",
                                  checkpoint: folder.checkpoints.last?.path)
        }
        try stop.shielding { try Checkpoint.write(trainer, to: path) }
    }

    /// Writes checkpoint-<step>, drops the oldest beyond keep_checkpoints, refreshes the curve.
    @discardableResult
    private func saveCheckpoint() throws -> String {
        let path = folder.checkpoint(step: trainer.progress.step)
        try writeCheckpoint(to: path)
        savedStep = trainer.progress.step
        try stop.shielding {
            for old in folder.checkpoints.dropLast(config.keepCheckpoints) { try? Checkpoint.remove(old.path) }
            try writeLossCurve()
        }
        observer?.note("saved \(path)")
        return path
    }

    private func writeLossCurve() throws {
        try folder.writeLossCurve(metrics.records, name: config.name)
    }
}
