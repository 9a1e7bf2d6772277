import CUDATransformer
import Foundation
import Generator
import MedtuneCore
import Trainer
import Transformer

/// A run's base model (step 0) and each of its checkpoints answering the same prompts, from one
/// loaded base: each checkpoint's adapter replaces the last (on a GPU, only the adapters are
/// uploaded again), and the base answers with no adapter at all.
struct CheckpointAnswers {
    /// One model of the sweep: "base" or a checkpoint's folder name, its step, and its answers.
    struct Model {
        var name: String
        var step: Int
        var generations: [TextGeneration]
    }

    /// A run's step checkpoints, oldest first (`RunFolder.checkpoints`); none is an error.
    static func checkpoints(in run: String) throws -> [(step: Int, path: String)] {
        let found = RunFolder(path: run).checkpoints
        guard !found.isEmpty else { throw InputError(file: run, "no checkpoint-N folder in the run") }
        return found
    }

    /// Every model's generations for `prompts` (rendered text, encoded with `template`), in
    /// batches of `batchSize`, on `gpu` or else on the CPU in `precision`; `progress` hears each
    /// finished batch.
    static func generate(base session: ModelSession, run: String, gpu: DeviceOptions.GPU?, precision: MatrixPrecision,
                         stopStrings: [String], prompts: [String], template: PromptTemplate, options: SamplingOptions, batchSize: Int,
                         progress: (_ model: String, _ done: Int, _ total: Int) -> Void) throws -> [Model] {
        let checkpoints = try checkpoints(in: run)
        precondition(session.adapter == nil, "the sweep's base is loaded without an adapter")
        let decoding = try DeviceOptions.model(session, on: gpu)
        let generator = session.textGenerator(stopStrings: stopStrings, model: decoding, precision: precision)
        let encoded = try prompts.map { try generator.encode($0, template: template, maxNewTokens: options.maxNewTokens) }
        func answers(_ name: String, useAdapter: Bool) throws -> [TextGeneration] {
            var all: [TextGeneration] = []
            for start in stride(from: 0, to: encoded.count, by: batchSize) {
                all += generator.generate(prompts: Array(encoded[start..<min(start + batchSize, encoded.count)]), options: options, useAdapter: useAdapter)
                try DeviceOptions.check(decoding)
                progress(name, all.count, encoded.count)
            }
            return all
        }
        var models = [Model(name: "base", step: 0, generations: try answers("base", useAdapter: false))]
        for checkpoint in checkpoints {
            _ = try PEFTAdapter.load(checkpoint.path, into: session.model)
            try (decoding as? CUDAQwen2Model)?.reloadAdapters(from: session.model)
            let name = URL(fileURLWithPath: checkpoint.path).lastPathComponent
            models.append(Model(name: name, step: checkpoint.step, generations: try answers(name, useAdapter: true)))
        }
        return models
    }
}
