import ArgumentParser
import Foundation
import MedtuneCore
import Trainer

/// `medtune plot`: a run's loss curve drawn again from its metrics.jsonl, for a run medtune did not
/// train itself (an exported job's train.py writes the same log) or one stopped before its last
/// curve was drawn.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw a run's loss curve (loss_curve.png and loss_curve.svg) from its metrics.jsonl.")

    @Argument(help: "The run folder: medtune train's output, or the output folder of an exported job's train.py.")
    var folder: String

    func run() throws {
        let run = RunFolder(path: folder)
        let records = try MetricsLog.read(run.metricsFile)
        guard records.contains(where: { $0.loss != nil || $0.valLoss != nil }) else {
            throw InputError(file: run.metricsFile, "holds no training or validation loss to draw")
        }
        try run.writeLossCurve(records, name: URL(fileURLWithPath: folder).standardizedFileURL.lastPathComponent)
        print("wrote \(run.lossCurvePNG) and \(run.lossCurveSVG) (\(records.count) records)")
    }
}
