import ArgumentParser
import Evaluator
import Foundation
import MedtuneCore

/// `medtune score`: BERTScore (as bert_score 0.3.13 computes it), character ROUGE-L and chrF of
/// answers against references, either for existing pairs or for a base model and its LoRA
/// adapter answering held-out questions (the tutorial's last step), with the statistics that say
/// whether their difference means anything.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score answers against references with BERTScore, ROUGE-L and chrF.",
        discussion: """
        Pairs:   medtune score --candidates pairs.jsonl --bert all-MiniLM-L6-v2 --num-layers 6
        Models:  medtune score --model base.gguf --adapter out/adapter --data data.jsonl --limit 10 --bert BERT_DIR

        BERTScore is computed exactly as the bert_score package (0.3.13): WordPiece with [CLS]/[SEP],
        truncation at the model's length, greedy cosine matching at layer --num-layers, idf from the
        references with --idf, and the best score over several references. The settings string it
        prints names model, layer and weighting; medtune writes (medtune) where bert_score writes
        the transformers version.
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

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "Field holding the candidate answer in --candidates records.")
    var candidateField = "candidate"

    @Option(help: "Field holding the reference: a string, or an array of strings for several references. Default: reference (pairs), Response (--data).")
    var referenceField: String?

    @Option(help: "Base model (GGUF file or Hugging Face folder) whose answers are compared with the adapter's.")
    var model: String?

    @Option(help: "LoRA adapter folder written by medtune train (with heldout_ids.json).")
    var adapter: String?

    @Option(help: "Data file with the questions and reference answers.")
    var data: String?

    @Option(help: "Number of held-out questions to evaluate.")
    var limit = 10

    @Option(help: "Comma-separated record indices to evaluate instead of the held-out ones.")
    var records: String?

    @Option(help: "Field holding the question in --data records.")
    var questionField = "Question"

    @Option(help: "Folder for the per-question results (results.json, results.csv, results.md).")
    var output: String?

    @Option(help: "Seed of the bootstrap resampling.")
    var seed: UInt64 = 0

    func validate() throws {
        switch (candidates, model) {
        case (nil, nil): throw ValidationError("give --candidates FILE to score pairs, or --model, --adapter and --data to compare a base model with its adapter")
        case (_?, _?): throw ValidationError("--candidates and --model are separate modes; give one of them")
        case (nil, _?):
            if adapter == nil || data == nil { throw ValidationError("--model needs --adapter and --data") }
        case (_?, nil): break
        }
        if let numLayers, numLayers < 0 { throw ValidationError("--num-layers must be 0 or more") }
    }

    func run() throws {
        try OpenBLAS.load()
        if let candidates {
            try scorePairs(candidates)
        } else {
            try compareModels()
        }
    }

    private func scorer() throws -> BERTScorer {
        let scoring = try ScoringModel.open(bert)
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
    }

    private func compareModels() throws {
        guard let data, let adapter else { return }
        let all = try JSONRecords.read(data)
        let requested = try records.map(parseRecords)
        let selection = try HeldOutSelection(recordCount: all.count, adapterDirectory: adapter, limit: limit, requested: requested)
        warn(selection.warnings)
        for index in selection.records {
            _ = try JSONRecords.string(all[index].record, questionField, file: data, line: all[index].line)
            _ = try JSONRecords.string(all[index].record, referenceField ?? "Response", file: data, line: all[index].line)
        }
        throw InputError(at: "--model", "generating answers for scoring is not available in this build yet; "
                         + "generate them with medtune compare and score the pairs with --candidates")
    }

    private func parseRecords(_ text: String) throws -> [Int] {
        try text.split(separator: ",").map {
            guard let index = Int($0.trimmingCharacters(in: .whitespaces)) else {
                throw InputError(at: "--records", "\"\($0)\" is not a record index")
            }
            return index
        }
    }

    private func warn(_ warnings: [String]) {
        for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
    }
}
