import Foundation
import MedtuneCore

/// The output folder of a training run and the names of what it holds.
public struct RunFolder: Sendable {
    public enum Mode: Sendable {
        /// A new run: the folder must not hold anything yet.
        case fresh
        /// A new run replacing an earlier run's folder.
        case overwrite
        /// Continue the run from its latest checkpoint.
        case resume
    }

    public let path: String

    public init(path: String) { self.path = path }

    public var configFile: String { path + "/config.yaml" }
    public var metricsFile: String { path + "/metrics.jsonl" }
    public var heldOutFile: String { path + "/heldout_ids.json" }
    public var lossCurvePNG: String { path + "/loss_curve.png" }
    public var lossCurveSVG: String { path + "/loss_curve.svg" }
    public var bestCheckpoint: String { path + "/checkpoint-best" }
    public func checkpoint(step: Int) -> String { path + "/checkpoint-\(step)" }

    /// Step checkpoints, oldest first (the best-checkpoint copy is not among them).
    public var checkpoints: [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)),
                  FileManager.default.fileExists(atPath: path + "/" + name + "/" + Checkpoint.stateFile) else { return nil }
            return (step, path + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    /// Checks the folder against the mode and creates it. A folder with earlier outputs is never
    /// touched without `resume` or `overwrite`; `overwrite` only removes a folder that a run made.
    public static func prepare(_ path: String, mode: Mode) throws -> RunFolder {
        let folder = RunFolder(path: path)
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists && !isDirectory.boolValue { throw InputError(file: path, "the output path is a file, not a folder") }
        let contents = exists ? ((try? fm.contentsOfDirectory(atPath: path)) ?? []) : []
        switch mode {
        case .resume:
            guard exists, !folder.checkpoints.isEmpty else {
                throw InputError(file: path, "no checkpoint to resume from (start the run without --resume)")
            }
            return folder
        case .fresh:
            if !contents.isEmpty {
                throw InputError(file: path, "the output folder already holds a training run; pass --resume to continue it or --overwrite to start again")
            }
        case .overwrite:
            if !contents.isEmpty {
                guard fm.fileExists(atPath: folder.configFile) else {
                    throw InputError(file: path, "--overwrite refuses to empty a folder that is not a medtune run (no config.yaml)")
                }
                try fm.removeItem(atPath: path)
            }
        }
        try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
        return folder
    }
}

extension RunFolder {
    /// The resolved configuration and the held-out record indices, written when a run starts.
    public func writeRunFiles(config: TrainingConfig, data: TrainingData) throws {
        try AtomicFile.write(Data(config.yaml().utf8), to: configFile)
        try AtomicFile.write(JSONEncoder().encode(data.heldOutIndices), to: heldOutFile)
    }
}
