import ArgumentParser
import Bench
import Evaluator
import Foundation
import MedtuneCore
import Records

/// `medtune bench score`: BERTScore throughput, model loading included, beside the Python
/// bert_score package scoring the same pairs on the CPU in the same run.
struct BenchScoreCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "BERTScore pairs/s, load included, against Python bert_score on the same pairs.",
        discussion: """
        Example: medtune bench score --bert .cache/assets/all-MiniLM-L6-v2 --num-layers 6 --data ../shared/data/medical_o1_zh_sample.jsonl

        Pairs are consecutive answers of the data files (record i against record i+1). Both sides are timed from start to scores, model loading included (and, for Python, importing torch and bert_score). The peer runs bert_score.score(..., device="cpu") under $MEDTUNE_PYTHON, else the Python of scripts/fetch-peers.sh, else python3, when that interpreter can import bert_score; it is skipped otherwise. The largest F1 difference between the two is printed as a check that they computed the same thing.
        """)

    @Option(help: "BERT model folder.")
    var bert: String

    @Option(help: "Data file(s) with answers (JSON Lines or a JSON array).")
    var data: [String]

    @Option(help: "Field holding the answer text.")
    var field = "Response"

    @Option(help: "Number of pairs.")
    var pairs = 200

    @Option(help: "Hidden layer (bert_score's num_layers).")
    var numLayers: Int?

    func run() throws {
        let blas = OpenBLAS.shared
        print("OpenBLAS \(blas.version), kernel \(blas.coreName) (\(blas.kernelChoice.summary))")
        if case .user = blas.kernelChoice {
            print("note: OPENBLAS_CORETYPE is set in the environment; unset it to let medtune choose the kernel for this CPU.")
        }
        var answers: [String] = []
        for file in data {
            for record in try RecordFile.load(file) { answers.append(try record.text(field, file: file)) }
        }
        guard answers.count > pairs else {
            throw InputError(at: "--data", "\(pairs) pairs need \(pairs + 1) answers; the data files hold \(answers.count)")
        }
        let candidates = Array(answers[0..<pairs]), references = Array(answers[1...pairs])

        let start = Date()
        let scoring = try ScoringModel.openBERT(bert)
        guard let layer = numLayers ?? scoring.defaultLayer else {
            throw InputError(file: bert, "bert_score has no default layer for \(scoring.name); choose one with --num-layers")
        }
        let scorer = try BERTScorer(tokenizer: scoring.tokenizer, encoder: scoring.encoder, modelName: scoring.name,
                                    options: BERTScoreOptions(layer: layer))
        let loaded = Date()
        let ours = try scorer.score(candidates: candidates, references: references)
        let seconds = Date().timeIntervalSince(start)
        print("medtune: \(pairs) pairs in \(String(format: "%.2f", seconds)) s (load \(String(format: "%.2f", loaded.timeIntervalSince(start))) s)"
              + " = \(String(format: "%.1f", Double(pairs) / seconds)) pairs/s, \(Parallel.threads) threads; \(ours.hash.description)")

        guard let peer = try BERTScorePeer.run(bert: bert, layer: layer, candidates: candidates, references: references) else { return }
        print("bert_score \(peer.version) (\(peer.python), torch \(peer.threads) threads, CPU): \(pairs) pairs in "
              + "\(String(format: "%.2f", peer.seconds)) s (imports \(String(format: "%.2f", peer.importSeconds)) s) "
              + "= \(String(format: "%.1f", Double(pairs) / peer.seconds)) pairs/s")
        let deviation = zip(ours.scores, peer.f1).map { abs($0.f1 - $1) }.max() ?? 0
        print("speed-up: \(String(format: "%.2f", peer.seconds / seconds))×; largest F1 difference: \(String(format: "%.1e", deviation))")
    }
}

/// The Python bert_score package run on the same pairs in a child process.
enum BERTScorePeer {
    struct Result: Decodable {
        var seconds: Double
        var importSeconds: Double
        var f1: [Double]
        var threads: Int
        var version: String
        var python: String
    }

    /// nil, with a note, when no Python with bert_score is at hand.
    static func run(bert: String, layer: Int, candidates: [String], references: [String]) throws -> Result? {
        try PythonPeer.withTemporaryFolder { folder in
            let request = folder.appendingPathComponent("request.json")
            let body: [String: Any] = ["bert": URL(fileURLWithPath: bert).standardizedFileURL.path, "layer": layer,
                                       "candidates": candidates, "references": references]
            try JSONSerialization.data(withJSONObject: body).write(to: request)
            let (json, unavailable) = try PythonPeer(script: "bert_score_pairs.py").run(arguments: [request.path], in: folder)
            guard let json, let data = try? JSONSerialization.data(withJSONObject: json),
                  let result = try? JSONDecoder().decode(Result.self, from: data) else {
                print("peer: bert_score not run (\(unavailable ?? "unexpected output")); skipped")
                return nil
            }
            return result
        }
    }
}
