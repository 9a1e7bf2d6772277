import Foundation
import MedtuneCore
import ModelFiles
import Transformer

/// A checkpoint folder: the adapter in PEFT's format, the optimiser's state tensors, and the
/// trainer's progress (step, dropout RNG, logging interval, best validation loss). The folder is
/// written under a temporary name and renamed into place, so a checkpoint is whole or absent.
public enum Checkpoint {
    public static let optimizerFile = "optimizer.safetensors"
    public static let stateFile = "trainer_state.json"

    public struct State: Codable, Equatable, Sendable {
        public var progress: TrainingProgress
        public var optimizerSteps: Int
        public var totalSteps: Int
        public var trainExamples: Int
        /// Where the next step starts in the data order (also derivable from the step).
        public var epoch: Int
        public var nextMicroBatch: Int

        enum CodingKeys: String, CodingKey {
            case progress
            case optimizerSteps = "optimizer_steps"
            case totalSteps = "total_steps"
            case trainExamples = "train_examples"
            case epoch
            case nextMicroBatch = "next_micro_batch"
        }
    }

    /// Name endings of a checkpoint on its way in (written, not yet in place), of the one it
    /// replaces (moved aside for the moment of the swap) and of one being removed.
    static let incompleteSuffix = ".incomplete", previousSuffix = ".old", removedSuffix = ".removed"

    public static func write<T: Scalar>(_ trainer: LoRATrainer<T>, to path: String) throws {
        let fm = FileManager.default
        let temporary = path + incompleteSuffix, previous = path + previousSuffix
        try? fm.removeItem(atPath: temporary)
        try fm.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        try PEFTAdapter.save(trainer.model, baseModelNameOrPath: trainer.config.resolvedBaseModelName, to: temporary)

        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for (name, tensor) in trainer.optimizer.stateTensors() { try writer.add(name, tensor: tensor) }
        try writer.write(to: temporary + "/" + optimizerFile)

        let position = trainer.plan.position(ofStep: trainer.progress.step)
        let state = State(progress: trainer.progress, optimizerSteps: trainer.optimizer.steps, totalSteps: trainer.totalSteps,
                          trainExamples: trainer.data.train.count, epoch: position.epoch, nextMicroBatch: position.microBatch)
        try AtomicFile.write(JSON.encode(state), to: temporary + "/" + stateFile)

        try remove(previous)
        if fm.fileExists(atPath: path) { try move(path, to: previous) }
        try move(temporary, to: path)
        try remove(previous)
    }

    /// Removes a checkpoint folder so that a kill part-way leaves no half-deleted checkpoint
    /// behind: it is renamed first (one atomic step), then deleted.
    static func remove(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let doomed = path + removedSuffix
        try move(path, to: doomed)
        try? FileManager.default.removeItem(atPath: doomed)
    }

    private static func move(_ source: String, to destination: String) throws {
        guard rename(source, destination) == 0 else {
            throw SystemError("\(source): cannot rename to \(URL(fileURLWithPath: destination).lastPathComponent) (\(String(cString: strerror(errno))))")
        }
    }

    /// Finishes what a kill interrupted in a run folder: a checkpoint moved aside for a swap whose
    /// replacement never arrived is put back; half-written and half-removed ones are deleted.
    static func recoverInterruptedWrites(in folder: RunFolder) {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix("checkpoint-") {
            let path = folder.path + "/" + name
            if name.hasSuffix(previousSuffix) {
                let original = String(path.dropLast(previousSuffix.count))
                if fm.fileExists(atPath: original) { try? remove(path) } else { try? move(path, to: original) }
            } else if name.hasSuffix(incompleteSuffix) || name.hasSuffix(removedSuffix) {
                try? fm.removeItem(atPath: path)
            }
        }
    }

    public static func readState(_ path: String) throws -> State {
        let file = path + "/" + stateFile
        guard let data = FileManager.default.contents(atPath: file) else { throw InputError(file: file, "cannot read the checkpoint state") }
        do { return try JSONDecoder().decode(State.self, from: data) } catch {
            throw InputError(file: file, "not a medtune checkpoint state (\(error))")
        }
    }

    /// Restores the optimiser and progress of a checkpoint into a trainer built on a model that
    /// carries the checkpoint's adapter (`LoRASetup.attach(to:config:from:)`).
    public static func restore<T: Scalar>(_ trainer: LoRATrainer<T>, from path: String) throws {
        let state = try readState(path)
        guard state.totalSteps == trainer.totalSteps, state.trainExamples == trainer.data.train.count else {
            throw InputError(file: path, "the checkpoint was made for \(state.totalSteps) steps over \(state.trainExamples) records; this run has \(trainer.totalSteps) over \(trainer.data.train.count) (different data or settings)")
        }
        let file = try SafetensorsFile(path: path + "/" + optimizerFile)
        var tensors: [String: [T]] = [:]
        for entry in file.tensorEntries { tensors[entry.name] = try file.tensor(named: entry.name).floats().map { T($0) } }
        trainer.optimizer.steps = state.optimizerSteps
        try trainer.optimizer.restore(tensors, parameters: trainer.parameters)
        trainer.progress = state.progress
    }
}

/// Pretty, key-sorted JSON for the small files a run writes.
enum JSON {
    static func encode<V: Encodable>(_ value: V) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}
