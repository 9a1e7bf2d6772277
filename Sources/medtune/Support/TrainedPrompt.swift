import Foundation
import Generator
import MedtuneCore
import Records
import Trainer

/// The prompt a LoRA run was trained on, read from the `config.yaml` of the run folder that holds
/// the adapter (or, for `checkpoint-N/`, the folder above it), so that compare and score ask the
/// tuned model in the words it learnt: the recipe's `prompt_template` with its `fields` mapping,
/// and the answer marker that ends its `analysis_template`.
struct TrainedPrompt {
    let template: PromptTemplate
    /// Template placeholder → record key (the recipe's `fields`).
    let fieldMap: [String: String]
    /// The text after which the answer starts, nil when the recipe's analysis ends in a field.
    let answerMarker: String?
    let recipe: String

    /// The run's prompt, or nil when the adapter is not in a run folder or the run trained on raw text.
    static func find(adapter: String) throws -> TrainedPrompt? {
        let folder = URL(fileURLWithPath: adapter)
        let candidates = [folder, folder.deletingLastPathComponent()].map { RunFolder(path: $0.path).configFile }
        guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }),
              let data = FileManager.default.contents(atPath: file) else { return nil }
        let config = try TrainingConfig.resolve(yaml: String(decoding: data, as: UTF8.self), source: file)
        guard config.format != .text else { return nil }
        let analysis = try RecordTemplate(config.analysisTemplate)
        return TrainedPrompt(template: try PromptTemplate(name: config.promptTemplate), fieldMap: config.fields,
                             answerMarker: analysis.trailingText.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 },
                             recipe: file)
    }

    /// A record's fields under the template's placeholder names.
    func fields(of record: [String: String]) -> [String: String] {
        var fields = record
        for (placeholder, key) in fieldMap { fields[placeholder] = record[key] }
        return fields
    }
}

/// The choices compare and score share: the template and answer marker the user gave, else the
/// run's own, else the tutorial's.
struct PromptChoice {
    let template: PromptTemplate
    let answerMarker: String
    let trained: TrainedPrompt?

    init(template name: String?, system: String?, answerMarker: String?, adapter: String?) throws {
        trained = name == nil ? try adapter.flatMap { try TrainedPrompt.find(adapter: $0) } : nil
        template = try trained?.template ?? PromptTemplate(name: name ?? "tutorial", system: system)
        self.answerMarker = answerMarker ?? trained?.answerMarker ?? ExtractedAnswer.defaultMarker
        if let trained {
            FileHandle.standardError.write(Data("prompt: the run's prompt_template and answer marker \"\(self.answerMarker)\" (\(trained.recipe); --template overrides)\n".utf8))
        }
    }

    func render(_ record: [String: String], questionField: String) throws -> String {
        try template.render(trained?.fields(of: record) ?? record, questionField: questionField)
    }
}

/// Base and LoRA answers to the same prompts from one loaded model, a batch at a time: the
/// base with the adapter switched off, then the adapter on, so that the base answers are the
/// untouched base model's. `batchDone` sees each batch's range and both sides' results.
func generateBaseThenLoRA(_ generator: TextGenerator, prompts: [[Int32]], options: SamplingOptions, batchSize: Int,
                          batchDone: (Range<Int>, [TextGeneration], [TextGeneration]) throws -> Void) throws {
    for start in stride(from: 0, to: prompts.count, by: batchSize) {
        let range = start..<min(start + batchSize, prompts.count)
        let batch = Array(prompts[range])
        let base = generator.generate(prompts: batch, options: options, useAdapter: false)
        let tuned = generator.generate(prompts: batch, options: options, useAdapter: true)
        try DeviceOptions.check(generator.model)
        try batchDone(range, base, tuned)
    }
}
