import Foundation
import MedtuneCore
import Records

/// The output folder of a training run and the names of what it holds.
///
/// A run folder is the user's work: it is never emptied on a guess. medtune marks the folders it
/// makes (`.medtune-run`), only ever removes the entries a run writes itself, and replaces an
/// earlier run only after the new one has checked all its inputs and written its first files.
public struct RunFolder: Sendable {
    public enum Mode: Sendable {
        /// A new run: the folder must not hold anything yet.
        case fresh
        /// A new run replacing an earlier run's folder.
        case overwrite
        /// Continue the run from its latest checkpoint (or from the start, when it stopped before
        /// writing one).
        case resume
    }

    public let path: String

    public init(path: String) { self.path = path }

    public static let markerFile = ".medtune-run"
    /// Where `--overwrite` keeps the earlier run's entries until the new run has started.
    static let setAsideFolder = ".medtune-replaced"

    public var markerPath: String { path + "/" + Self.markerFile }
    public var configFile: String { path + "/config.yaml" }
    public var metricsFile: String { path + "/metrics.jsonl" }
    public var heldOutFile: String { HeldOutRecords.path(in: path) }
    public var lossCurvePNG: String { path + "/loss_curve.png" }
    public var lossCurveSVG: String { path + "/loss_curve.svg" }
    public var bestCheckpoint: String { path + "/checkpoint-best" }

    /// Draws `records` as loss_curve.svg and loss_curve.png, titled with the run's name.
    public func writeLossCurve(_ records: [MetricsRecord], name: String) throws {
        let curve = LossCurve(records: records, title: "\(name): loss by step")
        try AtomicFile.write(Data(curve.svg().utf8), to: lossCurveSVG)
        try AtomicFile.write(curve.png(), to: lossCurvePNG)
    }
    public func checkpoint(step: Int) -> String { path + "/checkpoint-\(step)" }
    var setAsidePath: String { path + "/" + Self.setAsideFolder }

    /// Step checkpoints, oldest first (the best-checkpoint copy is not among them).
    public var checkpoints: [(step: Int, path: String)] {
        entries.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)),
                  FileManager.default.fileExists(atPath: path + "/" + name + "/" + Checkpoint.stateFile) else { return nil }
            return (step, path + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    private var entries: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] }

    /// Whether a run wrote `name`: its files, its checkpoints, and the temporary names its atomic
    /// writes use. Nothing else in a run folder is ever removed.
    static func isRunEntry(_ name: String) -> Bool {
        let files: Set<String> = [markerFile, "config.yaml", "metrics.jsonl", HeldOutRecords.fileName, "loss_curve.png", "loss_curve.svg",
                                  "adapter_config.json", "adapter_model.safetensors"]
        if files.contains(name) { return true }
        if name.hasSuffix(".incomplete") { return true }
        guard name.hasPrefix("checkpoint-") else { return false }
        var rest = name.dropFirst("checkpoint-".count)
        for suffix in [Checkpoint.incompleteSuffix, Checkpoint.previousSuffix, Checkpoint.removedSuffix] where rest.hasSuffix(suffix) {
            rest = rest.dropLast(suffix.count)
        }
        return rest == "best" || (!rest.isEmpty && rest.allSatisfy(\.isNumber))
    }

    /// A run that got as far as writing its configuration, in a folder medtune marked (or made
    /// before the marker existed, holding the three files every run writes when it starts).
    var isRun: Bool {
        let fm = FileManager.default
        guard fm.fileExists(atPath: configFile) else { return false }
        return fm.fileExists(atPath: markerPath) || (fm.fileExists(atPath: metricsFile) && fm.fileExists(atPath: heldOutFile))
    }

    /// Checks the folder against the mode and changes nothing: a folder with earlier outputs is
    /// never touched without `resume` or `overwrite`, and `overwrite` only accepts a run folder.
    public static func check(_ path: String, mode: Mode) throws -> RunFolder {
        let folder = RunFolder(path: path)
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && !isDirectory.boolValue { throw InputError(file: path, "the output path is a file, not a folder") }
        // What the user put there; a run's own leftovers (a marker, temporary files) do not count.
        let foreign = exists ? folder.entries.filter { $0 != setAsideFolder && !isRunEntry($0) } : []
        let marked = FileManager.default.fileExists(atPath: folder.markerPath)
        switch mode {
        case .resume:
            guard exists, folder.isRun else {
                throw InputError(file: path, "no run to resume here (start the run without --resume)")
            }
        case .fresh:
            if folder.isRun {
                throw InputError(file: path, "the output folder already holds a training run; pass --resume to continue it or --overwrite to start again")
            }
            if !foreign.isEmpty {
                throw InputError(file: path, "the output folder is not empty; choose another output_dir")
            }
        case .overwrite:
            if !foreign.isEmpty && !(marked || folder.isRun) {
                throw InputError(file: path, "--overwrite refuses to empty a folder that is not a medtune run (no \(markerFile))")
            }
        }
        return folder
    }

    /// Makes the folder ready for the run's first files: creates and marks it, and for `overwrite`
    /// moves the earlier run's entries aside (one rename each; anything else stays). The caller
    /// then `commit`s once its first files are written, or `rollBack`s to put the old run back.
    public func begin(_ mode: Mode) throws -> RunStart {
        let fm = FileManager.default
        do {
            let created = !fm.fileExists(atPath: path)
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            try recoverInterruptedReplacement()
            var moved: [String] = []
            if mode == .overwrite {
                let own = entries.filter(Self.isRunEntry)
                if !own.isEmpty {
                    try fm.createDirectory(atPath: setAsidePath, withIntermediateDirectories: false)
                    for name in own {
                        try fm.moveItem(atPath: path + "/" + name, toPath: setAsidePath + "/" + name)
                        moved.append(name)
                    }
                }
            }
            if mode != .resume || !fm.fileExists(atPath: markerPath) {
                try AtomicFile.write(Data("{\"format\": 1}\n".utf8), to: markerPath)
            }
            if mode == .resume { Checkpoint.recoverInterruptedWrites(in: self) }
            return RunStart(folder: self, mode: mode, createdFolder: created, setAside: moved)
        } catch let error as MedtuneError {
            throw error
        } catch {
            throw SystemError("\(path): cannot prepare the run folder (\(SystemError.reason(of: error)))")
        }
    }

    /// A replacement that a kill interrupted: when the new run never wrote its config, the earlier
    /// run comes back; otherwise the new run had started and the earlier one is dropped.
    private func recoverInterruptedReplacement() throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: setAsidePath) else { return }
        if fm.fileExists(atPath: configFile) {
            try fm.removeItem(atPath: setAsidePath)
            return
        }
        for name in entries where Self.isRunEntry(name) { try fm.removeItem(atPath: path + "/" + name) }
        for name in try fm.contentsOfDirectory(atPath: setAsidePath) {
            try fm.moveItem(atPath: setAsidePath + "/" + name, toPath: path + "/" + name)
        }
        try fm.removeItem(atPath: setAsidePath)
    }
}

/// A run that has claimed its folder but not yet written its first files.
public struct RunStart {
    public let folder: RunFolder
    let mode: RunFolder.Mode
    let createdFolder: Bool
    /// The earlier run's entries moved aside by `--overwrite`.
    let setAside: [String]

    /// The new run has written its first files: the earlier run is gone for good.
    public func commit() {
        guard !setAside.isEmpty else { return }
        try? FileManager.default.removeItem(atPath: folder.setAsidePath)
    }

    /// The new run could not start: the files it wrote go and the earlier run's come back.
    public func rollBack() {
        guard mode != .resume else { return }
        let fm = FileManager.default
        let written = ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).filter(RunFolder.isRunEntry)
        for name in written { try? fm.removeItem(atPath: folder.path + "/" + name) }
        for name in setAside { try? fm.moveItem(atPath: folder.setAsidePath + "/" + name, toPath: folder.path + "/" + name) }
        if !setAside.isEmpty { try? fm.removeItem(atPath: folder.setAsidePath) }
        if createdFolder { rmdir(folder.path) }
    }
}

extension RunFolder {
    /// The resolved configuration and the held-out record indices, written when a run starts.
    public func writeRunFiles(config: TrainingConfig, data: TrainingData) throws {
        try AtomicFile.write(Data(config.yaml().utf8), to: configFile)
        try HeldOutRecords.write(data.heldOutIndices, in: path)
    }
}
