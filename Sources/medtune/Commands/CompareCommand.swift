import ArgumentParser
import Foundation
import Generator
import MedtuneCore
import Records
import Trainer

/// `medtune compare`: the same questions answered by the base model and by the LoRA model.
///
/// Both answers come from one loaded model: the adapter is a separate low-rank path switched off
/// for the base answer, so the base answer is exactly the untouched base model's — not a model
/// with the adapter merged in. Prompts are never padded except on the left inside a batch.
struct CompareCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Answer the same questions with the base and the LoRA model, side by side.")

    @OptionGroup var model: ModelOptions
    @OptionGroup var sampling: SamplingFlags
    @OptionGroup var device: DeviceOptions

    @Option(name: .long, help: "A question (repeatable).")
    var question: [String] = []
    @Option(name: .long, help: "A JSON or JSONL file of records.")
    var data: String?
    @Option(name: .long, help: "Records to skip at the start of --data.")
    var offset = 0
    @Option(name: .long, help: "Records to use from --data.")
    var limit = 5
    @Option(name: .long, help: "Record field holding the question.")
    var questionField = "Question"
    @Option(name: .long, help: "Record field holding the reference answer, shown and saved beside the answers.")
    var referenceField = "Response"
    @Option(name: .long, help: "Prompt template: tutorial, chatml, deepseek-r1, or a text with {Field} placeholders. Default: the prompt_template of the run that holds the adapter (its config.yaml), else tutorial.")
    var template: String?
    @Option(name: .long, help: "System message for chat templates.")
    var system: String?
    @Option(name: .long, help: "The answer is the text after this marker (reasoning in <think>…</think> is kept apart). Default: the end of the run's analysis_template, else ###答案：.")
    var answerMarker: String?
    @Option(name: .long, help: "Questions generated together in one batch.")
    var batchSize = 4
    @Option(name: .long, help: "Also write the comparison to FILE.json or FILE.md.")
    var output: String?
    @Option(name: .long, help: "A run folder: the base and every checkpoint-N in it answer in turn, from one loaded base (instead of --adapter).")
    var checkpoints: String?

    func validate() throws {
        if question.isEmpty == (data == nil) { throw ValidationError("give either --question or --data") }
        if (model.adapter == nil) == (checkpoints == nil) { throw ValidationError("compare needs --adapter or --checkpoints (one of them)") }
        if batchSize < 1 || limit < 1 || offset < 0 { throw ValidationError("--batch-size and --limit must be ≥ 1, --offset ≥ 0") }
        if let output, !["json", "md"].contains(URL(fileURLWithPath: output).pathExtension.lowercased()) {
            throw ValidationError("--output must end in .json or .md")
        }
    }

    struct Side: Encodable {
        var text: String
        var reasoning: String?
        var answer: String
        var marker_found: Bool
        var tokens: Int
        var finish_reason: String
    }

    struct Row: Encodable {
        var index: Int
        var question: String
        var prompt: String
        var reference: String?
        var base: Side
        var lora: Side
    }

    /// One question answered by the base and by every checkpoint of a run, in step order.
    struct SweepRow: Encodable {
        var index: Int
        var question: String
        var prompt: String
        var reference: String?
        var answers: [NamedSide]
    }

    struct NamedSide: Encodable {
        var model: String
        var step: Int
        var side: Side
    }

    func run() throws {
        // A missing driver or GPU is reported before anything is read.
        let gpu = try device.openGPU()
        let options = try sampling.options()
        let choice = try PromptChoice(template: self.template, system: system, answerMarker: answerMarker, adapter: try model.resolved().adapter ?? checkpoints)
        let template = choice.template
        let records: [(index: Int, fields: [String: String])]
        if let data {
            let all = try RecordFile.load(data)
            guard offset < all.count else { throw InputError(file: data, "has \(all.count) records; --offset \(offset) leaves none") }
            records = all[offset..<min(all.count, offset + limit)].map { ($0.index, $0.values) }
        } else {
            records = question.enumerated().map { ($0.offset, [questionField: $0.element]) }
        }
        let prompts = try records.map { record -> String in
            do { return try choice.render(record.fields, questionField: questionField) } catch let error as InputError {
                throw InputError(file: data, at: "record \(record.index)", error.message)
            }
        }
        let inReasoning: Bool = { if case .deepSeekR1 = template { return true } else { return false } }()
        func side(_ g: TextGeneration) -> Side {
            let extracted = ExtractedAnswer(from: g.text, marker: choice.answerMarker, startsInReasoning: inReasoning)
            return Side(text: g.text, reasoning: extracted.reasoning, answer: extracted.answer, marker_found: extracted.markerFound,
                        tokens: g.ids.count, finish_reason: g.finishReason.rawValue)
        }
        if let checkpoints {
            let models = try CheckpointAnswers.generate(
                base: try ModelSession(paths: (try model.resolved().model, nil), named: model.model), run: checkpoints, gpu: gpu,
                precision: device.cpuPrecision, stopStrings: sampling.stop, prompts: prompts, template: template, options: options, batchSize: batchSize
            ) { name, done, total in FileHandle.standardError.write(Data("answers: \(name) \(done)/\(total)\n".utf8)) }
            let rows = records.indices.map { i in
                SweepRow(index: records[i].index, question: records[i].fields[questionField] ?? prompts[i], prompt: prompts[i],
                         reference: records[i].fields[referenceField],
                         answers: models.map { NamedSide(model: $0.name, step: $0.step, side: side($0.generations[i])) })
            }
            rows.forEach(show)
            if let output { try write(rows, to: output, options: options, template: template) }
            return
        }
        let session = try ModelSession(model)
        let generator = session.textGenerator(stopStrings: sampling.stop, model: try DeviceOptions.model(session, on: gpu),
                                              precision: device.cpuPrecision)
        let encoded = try prompts.map { try generator.encode($0, template: template, maxNewTokens: options.maxNewTokens) }
        var rows: [Row] = []
        try generateBaseThenLoRA(generator, prompts: encoded, options: options, batchSize: batchSize) { range, base, tuned in
            for (k, i) in range.enumerated() {
                let row = Row(index: records[i].index, question: records[i].fields[questionField] ?? prompts[i], prompt: prompts[i],
                              reference: records[i].fields[referenceField], base: side(base[k]), lora: side(tuned[k]))
                rows.append(row)
                show(row)
            }
        }
        if let output { try write(rows, to: output, options: options, template: template) }
    }

    private func show(_ row: Row) {
        let color = TerminalText.isTerminal
        print(TerminalText.styled("[\(row.index)] \(row.question)", .bold, enabled: color))
        let width = TerminalText.width
        if color && width >= 80 {
            let column = (width - 3) / 2
            let left = lines(row.base, title: "base model", width: column, style: .yellow)
            let right = lines(row.lora, title: "LoRA model", width: column, style: .green)
            for i in 0..<max(left.count, right.count) {
                let l = i < left.count ? left[i] : ("", "")
                let r = i < right.count ? right[i] : ("", "")
                print(l.1 + String(repeating: " ", count: max(0, column - TerminalText.cells(l.0))) + " │ " + r.1)
            }
        } else {
            for (title, s) in [("base model", row.base), ("LoRA model", row.lora)] {
                print("--- \(title) (\(s.tokens) tokens, \(s.finish_reason))")
                if let reasoning = s.reasoning { print("reasoning: \(reasoning)") }
                print("answer: \(s.answer)")
            }
        }
        if let reference = row.reference { print(TerminalText.styled("reference: \(reference)", .cyan, enabled: color)) }
        print("")
    }

    /// A question's answers from the base and each checkpoint, one after another.
    private func show(_ row: SweepRow) {
        let color = TerminalText.isTerminal
        print(TerminalText.styled("[\(row.index)] \(row.question)", .bold, enabled: color))
        for answer in row.answers {
            print(TerminalText.styled("--- \(answer.model) (step \(answer.step), \(answer.side.tokens) tokens, \(answer.side.finish_reason))",
                                      answer.step == 0 ? .yellow : .green, enabled: color))
            if let reasoning = answer.side.reasoning { print("reasoning: \(reasoning)") }
            print("answer: \(answer.side.answer)")
        }
        if let reference = row.reference { print(TerminalText.styled("reference: \(reference)", .cyan, enabled: color)) }
        print("")
    }

    /// Wrapped lines of one side: (plain text for measuring, styled text for printing).
    private func lines(_ s: Side, title: String, width: Int, style: TerminalText.Style) -> [(String, String)] {
        var out: [(String, String)] = []
        let header = "\(title) · \(s.tokens) tokens · \(s.finish_reason)"
        out.append((header, TerminalText.styled(header, style, enabled: true)))
        if let reasoning = s.reasoning, !reasoning.isEmpty {
            for line in TerminalText.wrap("思考: " + reasoning, width: width) { out.append((line, TerminalText.styled(line, .dim, enabled: true))) }
        }
        for line in TerminalText.wrap(s.answer, width: width) { out.append((line, line)) }
        return out
    }

    private func write(_ rows: [SweepRow], to path: String, options: SamplingOptions, template: PromptTemplate) throws {
        let data: Data
        if path.lowercased().hasSuffix(".json") {
            struct File: Encodable { var model: String; var checkpoints: String?; var template: String; var sampling: SamplingOptions; var rows: [SweepRow] }
            data = try Self.json(File(model: model.model, checkpoints: checkpoints, template: template.name, sampling: options, rows: rows))
        } else {
            var md = "# Base and every checkpoint\n\nmodel: `\(model.model)` · run: `\(checkpoints ?? "")` · template: `\(template.name)`\n"
            for row in rows {
                md += "\n## [\(row.index)] \(row.question)\n"
                for answer in row.answers { md += Self.markdown(answer.side, title: "\(answer.model) (step \(answer.step))") }
                if let reference = row.reference { md += "\n### Reference\n\n\(reference)\n" }
            }
            data = Data(md.utf8)
        }
        try AtomicFile.write(data, to: path)
        print("wrote \(path)")
    }

    private static func json<Value: Encodable>(_ value: Value) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    private static func markdown(_ s: Side, title: String) -> String {
        var md = "\n### \(title) (\(s.tokens) tokens, \(s.finish_reason))\n\n"
        if let reasoning = s.reasoning { md += "<details><summary>reasoning</summary>\n\n\(reasoning)\n\n</details>\n\n" }
        return md + s.answer + "\n"
    }

    private func write(_ rows: [Row], to path: String, options: SamplingOptions, template: PromptTemplate) throws {
        let data: Data
        if path.lowercased().hasSuffix(".json") {
            struct File: Encodable { var model: String; var adapter: String?; var template: String; var sampling: SamplingOptions; var rows: [Row] }
            data = try Self.json(File(model: model.model, adapter: model.adapter, template: template.name, sampling: options, rows: rows))
        } else {
            var md = "# Base vs LoRA\n\nmodel: `\(model.model)` · adapter: `\(model.adapter ?? "")` · template: `\(template.name)`\n"
            for row in rows {
                md += "\n## [\(row.index)] \(row.question)\n"
                for (title, s) in [("Base model", row.base), ("LoRA model", row.lora)] { md += Self.markdown(s, title: title) }
                if let reference = row.reference { md += "\n### Reference\n\n\(reference)\n" }
            }
            data = Data(md.utf8)
        }
        try AtomicFile.write(data, to: path)
        print("wrote \(path)")
    }
}
