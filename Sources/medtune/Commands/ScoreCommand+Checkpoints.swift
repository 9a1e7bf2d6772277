import ArgumentParser
import Evaluator
import Foundation
import Generator
import Hub
import MedtuneCore
import Trainer

extension CheckpointSweep.Metric: ExpressibleByArgument {}

/// `medtune score --checkpoints RUN`: the base and every checkpoint of a run on the run's
/// held-out questions, from one loaded base whose adapters are switched in turn.
extension ScoreCommand {
    func sweep(model: String, run: String, data: String) throws {
        let gpu = try device.openGPU()
        _ = try CheckpointAnswers.checkpoints(in: run)
        let (selection, chosen) = try heldOutQuestions(data: data, trainedBeside: run)
        let basePath = try Hub.resolveModel(model, allowDownload: false).path
        let choice = try PromptChoice(template: template, system: system, answerMarker: answerMarker, adapter: run)
        let prompts = try chosen.map { try choice.render($0.fields, questionField: questionField) }
        let scorer = try scorer()
        // The validation loss the run logged at each step (step 0: the base, before training).
        let metricsPath = RunFolder(path: run).metricsFile
        let logged = FileManager.default.fileExists(atPath: metricsPath) ? try MetricsLog.read(metricsPath) : []
        var validationLoss: [Int: Double] = [:]
        for record in logged { if let loss = record.valLoss { validationLoss[record.step] = loss } }

        let models = try CheckpointAnswers.generate(
            base: try ModelSession(paths: (basePath, nil), named: model), run: run, gpu: gpu, precision: device.cpuPrecision,
            stopStrings: sampling.stop, prompts: prompts,
            template: choice.template, options: try sampling.options(), batchSize: batchSize
        ) { name, done, total in FileHandle.standardError.write(Data("answers: \(name) \(done)/\(total)\n".utf8)) }
        .map { (name: $0.name, step: $0.step, answers: $0.generations.map { answer($0, choice: choice) }) }

        let references = chosen.map { [$0.reference] }
        var scored: [(name: String, step: Int, validationLoss: Double?, answers: [String], scores: [PairMetrics])] = []
        var hash = ""
        for model in models {
            let result = try scorer.score(candidates: model.answers, references: references)
            warn(result.warnings)
            hash = result.hash.description
            scored.append((model.name, model.step, validationLoss[model.step], model.answers,
                           OverlapMetrics.combine(bertScores: result.scores, candidates: model.answers, references: references)))
        }
        let report = CheckpointSweep(hash: hash, records: selection.records, models: scored, metric: metric, seed: bootstrapSeed)
        if json {
            FileHandle.standardOutput.write(try report.json() + Data("\n".utf8))
        } else {
            print(report.table())
        }
        let name = URL(fileURLWithPath: run).standardizedFileURL.lastPathComponent
        let chart = report.chart(title: "\(name): held-out bertscore by checkpoint")
        try write(["results.json": try report.json(), "results.csv": Data(report.csv().utf8), "results.md": Data(report.markdown().utf8),
                   "checkpoints.png": chart.png(), "checkpoints.svg": Data(chart.svg().utf8)],
                  to: output ?? URL(fileURLWithPath: run).appendingPathComponent("evaluation-checkpoints").path)
    }
}
