import ArgumentParser
import CUDATransformer
import Evaluator
import Foundation
import Generator
import Hub
import MedtuneCore
import Trainer
import Transformer

extension CheckpointSweep.Metric: ExpressibleByArgument {}

/// `medtune score --checkpoints RUN`: the base and every checkpoint of a run on the run's
/// held-out questions, from one loaded base whose adapters are switched in turn.
extension ScoreCommand {
    /// A run's `checkpoint-N` folders that hold an adapter, by step.
    static func checkpoints(in run: String) throws -> [(name: String, step: Int, path: String)] {
        let folder = URL(fileURLWithPath: run)
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: run) } catch {
            throw InputError(file: run, "cannot read the run folder (\(SystemError.reason(of: error)))")
        }
        let found = names.compactMap { name -> (String, Int, String)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)), step > 0 else { return nil }
            let path = folder.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path + "/adapter_config.json") else { return nil }
            return (name, step, path)
        }.sorted { $0.1 < $1.1 }
        guard !found.isEmpty else { throw InputError(file: run, "no checkpoint-N folder with an adapter (adapter_config.json) in the run") }
        return found
    }

    func sweep(model: String, run: String, data: String) throws {
        let gpu = try device.openGPU()
        let checkpoints = try Self.checkpoints(in: run)
        let (selection, chosen) = try heldOutQuestions(data: data, trainedBeside: run)
        let basePath = try Hub.resolveModel(model, allowDownload: false).path
        let choice = try PromptChoice(template: template, system: system, answerMarker: answerMarker, adapter: run)
        let prompts = try chosen.map { try choice.render($0.fields, questionField: questionField) }
        let scorer = try scorer()
        // The validation loss the run logged at each step (step 0: the base, before training).
        let metricsPath = URL(fileURLWithPath: run).appendingPathComponent("metrics.jsonl").path
        let logged = FileManager.default.fileExists(atPath: metricsPath) ? try MetricsLog.read(metricsPath) : []
        var validationLoss: [Int: Double] = [:]
        for record in logged { if let loss = record.valLoss { validationLoss[record.step] = loss } }

        // One base in memory (and on the GPU); each checkpoint's adapter replaces the last.
        let session = try ModelSession(paths: (basePath, nil), named: model)
        let decoding = try DeviceOptions.model(session, on: gpu)
        let generator = session.textGenerator(stopStrings: sampling.stop, model: decoding)
        let options = try sampling.options()
        let encoded = try prompts.map { try generator.encode($0, template: choice.template, maxNewTokens: options.maxNewTokens) }
        func answers(useAdapter: Bool, label: String) throws -> [String] {
            var all: [String] = []
            for start in stride(from: 0, to: encoded.count, by: batchSize) {
                let batch = Array(encoded[start..<min(start + batchSize, encoded.count)])
                all += generator.generate(prompts: batch, options: options, useAdapter: useAdapter).map { answer($0, choice: choice) }
                try DeviceOptions.check(decoding)
                FileHandle.standardError.write(Data("answers: \(label) \(all.count)/\(encoded.count)\n".utf8))
            }
            return all
        }
        var models: [(name: String, step: Int, answers: [String])] = [("base", 0, try answers(useAdapter: false, label: "base"))]
        for checkpoint in checkpoints {
            _ = try PEFTAdapter.load(checkpoint.path, into: session.model)
            try (decoding as? CUDAQwen2Model)?.reloadAdapters(from: session.model)
            models.append((checkpoint.name, checkpoint.step, try answers(useAdapter: true, label: checkpoint.name)))
        }

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
