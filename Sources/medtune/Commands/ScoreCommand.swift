import ArgumentParser
import Evaluator
import Foundation
import Hub
import Generator
import MedtuneCore
import Records

/// `medtune score`: BERTScore (as bert_score 0.3.13 computes it), character ROUGE-L and chrF of
/// answers against references, either for existing pairs or for a base model and its LoRA
/// adapter answering held-out questions (the tutorial's last step), with the statistics that say
/// whether their difference means anything.
struct ScoreCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score answers against references with BERTScore, ROUGE-L and chrF.",
        discussion: """
        Pairs: medtune score --candidates pairs.jsonl --bert all-MiniLM-L6-v2 --num-layers 6

        Models: medtune score --model base.gguf --adapter out/adapter --data data.jsonl --limit 10 --bert bert-base-chinese --num-layers 12

        BERTScore is computed exactly as the bert_score package 0.3.13 computes it: WordPiece with [CLS] and [SEP], truncation at the model's length, greedy cosine matching at layer --num-layers, idf from the references with --idf, and the best score over several references. The settings string printed with the scores names model, layer and weighting; medtune writes (medtune) where bert_score writes the transformers version.

        --bert also takes a Qwen2 model (GGUF file or folder) with --num-layers: the same matching over that model's hidden states, named qwen2:<model> in the settings string since it is not standard BERTScore.

        With --model, the base model and the adapter answer the records kept out of training (heldout_ids.json beside the adapter), both are scored, and the table gives 95% percentile-bootstrap intervals, how many questions improved, and the p-value of a two-sided paired sign-flip permutation test of the mean difference (exact up to 20 questions).

        Checkpoints: medtune score --model base.gguf --checkpoints data/runs/demo --data data.jsonl --bert bert-base-chinese

        With --checkpoints RUN, the base (step 0) and every checkpoint-N of the run answer the run's held-out questions from one loaded base, the adapters switched in turn; the table and checkpoints.png/.svg give each step's mean BERTScore F1 with its 95% interval and the validation loss the run logged, and name the best checkpoint by --metric.
        """)

    @Option(help: "JSON Lines (or JSON array) file of pairs to score.")
    var candidates: String?

    @Option(help: "BERT model folder: config.json, model.safetensors, vocab.txt or tokenizer.json (tokenizer_config.json if any).")
    var bert: String

    @Option(help: "Hidden layer to compare (bert_score's num_layers). Default: bert_score's choice for the model (e.g. 8 for bert-base-chinese).")
    var numLayers: Int?

    @Flag(help: "Weight tokens by inverse document frequency over the references.")
    var idf = false

    @Option(help: "bert_score baseline file (LAYER,P,R,F rows) to rescale scores with.")
    var rescaleBaseline: String?

    @Flag(help: "Print the report as JSON instead of a table.")
    var json = false

    @Option(help: "Field holding the candidate answer in --candidates records.")
    var candidateField = "candidate"

    @Option(help: "Field holding the reference: a string, or an array of strings for several references. Default: reference (pairs), Response (--data).")
    var referenceField: String?

    @Option(help: "Base model (GGUF file or Hugging Face folder) whose answers are compared with the adapter's.")
    var model: String?

    @Option(help: "LoRA adapter folder written by medtune train (with heldout_ids.json).")
    var adapter: String?

    @Option(help: "A run folder: the base and every checkpoint-N in it answer the run's held-out questions (instead of --adapter).")
    var checkpoints: String?

    @Option(help: "What names the best checkpoint with --checkpoints: f1 (mean BERTScore F1) or val_loss (the validation loss the run logged).")
    var metric: CheckpointSweep.Metric = .bertScoreF1

    @Option(help: "Data file with the questions and reference answers.")
    var data: String?

    @Option(help: "Number of held-out questions to evaluate.")
    var limit = 10

    @Option(help: "Comma-separated record indices to evaluate instead of the held-out ones.")
    var records: String?

    @Option(help: "Field holding the question in --data records.")
    var questionField = "Question"

    @Option(help: "Folder for the results: results.json, results.csv and results.md with --model (default: <adapter>/evaluation); results.json and results.txt with --candidates.")
    var output: String?

    @Option(help: "Prompt template: tutorial, chatml, deepseek-r1, or a text with {Field} placeholders. Default: the prompt_template of the run that holds the adapter (its config.yaml), else tutorial.")
    var template: String?

    @Option(help: "The answer is the text after this marker. Default: the end of the run's analysis_template, else ###答案：.")
    var answerMarker: String?

    @Option(help: "System message for chat templates.")
    var system: String?

    @Option(help: "Questions generated together in one batch.")
    var batchSize = 4

    @Option(help: "Seed of the bootstrap resampling.")
    var bootstrapSeed: UInt64 = 0

    @OptionGroup(title: "Generation (with --model)")
    var sampling: SamplingFlags

    @OptionGroup(title: "Where the models answer (with --model; BERTScore runs on the CPU)")
    var device: DeviceOptions

    func validate() throws {
        switch (candidates, model) {
        case (nil, nil): throw ValidationError("give --candidates FILE to score pairs, or --model, --adapter and --data to compare a base model with its adapter")
        case (_?, _?): throw ValidationError("--candidates and --model are separate modes; give one of them")
        case (nil, _?):
            if (adapter == nil) == (checkpoints == nil) { throw ValidationError("--model needs --adapter or --checkpoints (one of them)") }
            if data == nil { throw ValidationError("--model needs --data") }
        case (_?, nil): break
        }
        if let numLayers, numLayers < 0 { throw ValidationError("--num-layers must be 0 or more") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        if let candidates {
            try scorePairs(candidates)
        } else if let model, let adapter, let data {
            try compareModels(model: model, adapter: adapter, data: data)
        } else if let model, let checkpoints, let data {
            try sweep(model: model, run: checkpoints, data: data)
        }
    }

    func scorer() throws -> BERTScorer {
        let scoring = try ScoringModel.open(try Hub.resolveModel(bert, allowDownload: false).path)
        guard let layer = numLayers ?? scoring.defaultLayer else {
            throw InputError(file: bert, "bert_score has no default layer for \(scoring.name); choose one with --num-layers (0...\(scoring.encoder.layerCount))")
        }
        let baseline = try rescaleBaseline.map { try RescaleBaseline(path: $0) }
        return try BERTScorer(tokenizer: scoring.tokenizer, encoder: scoring.encoder, modelName: scoring.name,
                              options: BERTScoreOptions(layer: layer, idf: idf, baseline: baseline))
    }

    private func scorePairs(_ path: String) throws {
        let pairs = try PairFile(path: path, candidateField: candidateField, referenceField: referenceField ?? "reference")
        let scorer = try scorer()
        let result = try scorer.score(candidates: pairs.candidates, references: pairs.references)
        warn(result.warnings)
        let metrics = OverlapMetrics.combine(bertScores: result.scores, candidates: pairs.candidates, references: pairs.references)
        let report = ScoreReport(hash: result.hash.description, lines: pairs.lines, metrics: metrics)
        if json {
            FileHandle.standardOutput.write(try report.json() + Data("\n".utf8))
        } else {
            print(report.text())
        }
        if let output {
            try write(["results.json": try report.json(), "results.txt": Data(report.text().utf8)], to: output)
        }
    }

    /// Writes each result file atomically into `folder`, creating it, and says where they went.
    func write(_ files: [String: Data], to folder: String) throws {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw SystemError("\(folder): cannot create the output folder (\(SystemError.reason(of: error)))")
        }
        for (name, data) in files.sorted(by: { $0.key < $1.key }) { try AtomicFile.write(data, to: folder + "/" + name) }
        FileHandle.standardError.write(Data("results: \(folder)/{\(files.keys.sorted().joined(separator: ","))}\n".utf8))
    }

    private func compareModels(model: String, adapter: String, data: String) throws {
        // A missing driver or GPU is reported before anything is read.
        let gpu = try device.openGPU()
        let (selection, chosen) = try heldOutQuestions(data: data, trainedBeside: adapter)
        let paths = (try Hub.resolveModel(model, allowDownload: false).path, try Hub.resolveModel(adapter, allowDownload: false).path)
        let choice = try PromptChoice(template: template, system: system, answerMarker: answerMarker, adapter: paths.1)
        let prompts = try chosen.map { try choice.render($0.fields, questionField: questionField) }
        // Opened first, so that a wrong --bert fails before minutes of generation.
        let scorer = try scorer()
        let answers = try generateAnswers(paths: paths, model: model, prompts: prompts, choice: choice, gpu: gpu)

        let references = chosen.map { [$0.reference] }
        let base = try scorer.score(candidates: answers.base, references: references)
        let tuned = try scorer.score(candidates: answers.tuned, references: references)
        warn(Array(Set(base.warnings + tuned.warnings)).sorted())
        let baseMetrics = OverlapMetrics.combine(bertScores: base.scores, candidates: answers.base, references: references)
        let tunedMetrics = OverlapMetrics.combine(bertScores: tuned.scores, candidates: answers.tuned, references: references)
        let questions = selection.records.indices.map { i in
            QuestionComparison(record: selection.records[i], question: chosen[i].fields[questionField] ?? "", reference: chosen[i].reference,
                               baseAnswer: answers.base[i], tunedAnswer: answers.tuned[i], base: baseMetrics[i], tuned: tunedMetrics[i])
        }
        let report = ComparisonReport(hash: base.hash.description, questions: questions, seed: bootstrapSeed)
        if json {
            FileHandle.standardOutput.write(try report.json() + Data("\n".utf8))
        } else {
            print(report.tutorialLine)
            print(report.table())
        }
        try write(["results.json": try report.json(), "results.csv": Data(report.csv().utf8), "results.md": Data(report.markdown().utf8)],
                  to: output ?? URL(fileURLWithPath: adapter).appendingPathComponent("evaluation").path)
    }

    /// The records to ask (held out from the run whose heldout_ids.json is in `folder`, or those
    /// --records names), with each record's fields and reference answer.
    func heldOutQuestions(data: String, trainedBeside folder: String) throws
        -> (selection: HeldOutSelection, chosen: [(fields: [String: String], reference: String)]) {
        let all = try RecordFile.load(data)
        let selection = try HeldOutSelection(recordCount: all.count, adapterDirectory: folder, limit: limit,
                                             requested: try records.map(parseRecords))
        warn(selection.warnings)
        let referenceField = self.referenceField ?? "Response"
        let chosen = try selection.records.map { index -> (fields: [String: String], reference: String) in
            let record = all[index]
            _ = try record.text(questionField, file: data)
            return (record.values, try record.text(referenceField, file: data))
        }
        return (selection, chosen)
    }

    /// The answer part of a generation, after the prompt choice's marker.
    func answer(_ generation: TextGeneration, choice: PromptChoice) -> String {
        let startsInReasoning = if case .deepSeekR1 = choice.template { true } else { false }
        return ExtractedAnswer(from: generation.text, marker: choice.answerMarker, startsInReasoning: startsInReasoning).answer
    }

    /// The base model's and the adapter's answers to every prompt; the model is released before
    /// scoring starts.
    private func generateAnswers(paths: (String, String), model: String, prompts: [String], choice: PromptChoice,
                                 gpu: DeviceOptions.GPU?) throws -> (base: [String], tuned: [String]) {
        let session = try ModelSession(paths: paths, named: model)
        let generator = session.textGenerator(stopStrings: sampling.stop, model: try DeviceOptions.model(session, on: gpu),
                                              precision: device.cpuPrecision)
        let options = try sampling.options()
        let encoded = try prompts.map { try generator.encode($0, template: choice.template, maxNewTokens: options.maxNewTokens) }
        var base: [String] = [], tuned: [String] = []
        try generateBaseThenLoRA(generator, prompts: encoded, options: options, batchSize: batchSize) { _, baseBatch, tunedBatch in
            base += baseBatch.map { answer($0, choice: choice) }
            tuned += tunedBatch.map { answer($0, choice: choice) }
            FileHandle.standardError.write(Data("answers: \(base.count)/\(encoded.count) (base and LoRA)\n".utf8))
        }
        return (base, tuned)
    }

    func parseRecords(_ text: String) throws -> [Int] {
        try text.split(separator: ",").map {
            guard let index = Int($0.trimmingCharacters(in: .whitespaces)) else {
                throw InputError(at: "--records", "\"\($0)\" is not a record index")
            }
            return index
        }
    }

    func warn(_ warnings: [String]) {
        for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
    }
}
