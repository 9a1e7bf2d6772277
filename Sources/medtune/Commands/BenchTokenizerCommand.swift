import ArgumentParser
import Bench
import Foundation
import MedtuneCore
import Tokenizers

/// `medtune bench tokenizer`: encoding throughput on the parity corpus and on a long
/// Chinese/English mix, beside the Hugging Face `tokenizers` library (Rust, one thread) run on
/// the same text and the same vocabulary in a Python child process.
struct BenchTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Tokens/s of medtune's tokenizer beside the HF tokenizers library on the same text.",
        discussion: """
            The peer runs when a Python ($MEDTUNE_PYTHON, else the one scripts/fetch-peers.sh installs, else python3 on PATH) can import tokenizers.
            It gets the very vocabulary medtune loaded, written out as tokenizer.json.
            """)

    @Option(name: .long, help: ArgumentHelp("The tokenizer: HF folder, tokenizer.json, vocab.txt or .gguf (default: the Qwen2.5 GGUF in the asset cache).", valueName: "PATH"))
    var model: String?

    @Option(name: .long, help: ArgumentHelp("The parity corpus.", valueName: "FILE"))
    var corpus = "Tests/Golden/Tokenizers/corpus.json"

    @Option(name: .long, help: ArgumentHelp("The shared medical records.", valueName: "DIR"))
    var shared = "../shared/data"

    @Option(name: .long, help: "Size of the Chinese/English mix, in MB.")
    var mixMegabytes = 10

    @Option(name: .long, help: "Timed runs of each workload (the best is kept).")
    var repeats = 3

    func run() throws {
        let path = model ?? Self.defaultModel()
        let before = MemoryUsage.current()
        let loadStart = Date()
        let tokenizer = try TokenizerLoader.load(path: path)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let after = MemoryUsage.current()

        let entries = try TextCorpus.entries(corpus: URL(fileURLWithPath: corpus), sharedData: URL(fileURLWithPath: shared))
        let mix = try TextCorpus.mixedText(sharedData: URL(fileURLWithPath: shared), bytes: mixMegabytes << 20)
        let workloads: [(name: String, texts: [String])] = [
            ("corpus (\(entries.count) texts)", entries.map(\.text)),
            ("mix (\(mix.utf8.count >> 20) MB, one text)", [mix]),
        ]

        print("tokenizer: \(path) (\(type(of: tokenizer)), \(tokenizer.vocabularySize) tokens)")
        print(String(format: "load: %.2f s, resident memory +%.0f MB (process peak %.0f MB)",
                     loadSeconds, (after.resident - before.resident) / 1e6, after.peak / 1e6))

        let ours = workloads.map { measure(tokenizer, $0.texts) }
        let peer = try PeerBenchmark(tokenizer: tokenizer, modelPath: path).run(workloads.map(\.texts), repeats: repeats)
        if let reason = peer.unavailable { print("peer: not run (\(reason))") }

        print(String(repeating: "-", count: 92))
        print(tableCell("workload", 34) + tableCell("tokens", 11) + tableCell("medtune tok/s", 15) + tableCell("HF tok/s", 13) + tableCell("ratio", 8) + "same ids")
        for (index, workload) in workloads.enumerated() {
            let mine = ours[index]
            let theirs = peer.results.indices.contains(index) ? peer.results[index] : nil
            let rate = Double(mine.tokens) / mine.seconds
            let peerRate = theirs.map { Double($0.tokens) / $0.seconds }
            print(tableCell(workload.name, 34) + tableCell("\(mine.tokens)", 11) + tableCell(String(format: "%.0f", rate), 15)
                  + tableCell(peerRate.map { String(format: "%.0f", $0) } ?? "-", 13)
                  + tableCell(peerRate.map { String(format: "%.2f", rate / $0) } ?? "-", 8)
                  + (theirs.map { $0.checksum == mine.checksum ? "yes" : "NO" } ?? "-"))
        }
    }

    private func measure(_ tokenizer: any Tokenizer, _ texts: [String]) -> PeerBenchmark.Result {
        var best = Double.infinity
        var result = PeerBenchmark.Result(tokens: 0, seconds: 0, checksum: 0)
        for _ in 0..<max(1, repeats) {
            var tokens = 0
            var checksum = 0
            let start = Date()
            for text in texts {
                let ids = tokenizer.encode(text, allowSpecial: true, addSpecialTokens: false)
                tokens += ids.count
                checksum = PeerBenchmark.checksum(checksum, ids)
            }
            let seconds = Date().timeIntervalSince(start)
            if seconds < best {
                best = seconds
                result = PeerBenchmark.Result(tokens: tokens, seconds: seconds, checksum: checksum)
            }
        }
        return result
    }

    static func defaultModel() -> String {
        let assets = ProcessInfo.processInfo.environment["MEDTUNE_ASSETS"].flatMap { $0.isEmpty ? nil : $0 } ?? ".cache/assets"
        return URL(fileURLWithPath: assets).appendingPathComponent("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").path
    }
}

/// The Hugging Face `tokenizers` library timing the same texts in a Python child process.
private struct PeerBenchmark {
    struct Result {
        var tokens: Int
        var seconds: Double
        /// A sum over every id weighted by its position, to tell identical output apart cheaply.
        var checksum: Int
    }

    let tokenizer: any Tokenizer
    let modelPath: String

    static func checksum(_ start: Int, _ ids: [Int]) -> Int {
        var value = start
        for (index, id) in ids.enumerated() { value = (value &+ (index % 1009 + 1) &* (id + 1)) % 1_000_000_007 }
        return value
    }

    func run(_ workloads: [[String]], repeats: Int) throws -> (results: [Result], unavailable: String?) {
        try PythonPeer.withTemporaryFolder { folder in
            let tokenizerFile: URL
            if let bpe = tokenizer as? BPETokenizer {
                tokenizerFile = folder.appendingPathComponent("tokenizer.json")
                try bpe.huggingFaceJSON().write(to: tokenizerFile)
            } else {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: modelPath, isDirectory: &isDirectory)
                let candidate = isDirectory.boolValue ? URL(fileURLWithPath: modelPath).appendingPathComponent("tokenizer.json")
                    : URL(fileURLWithPath: modelPath)
                guard candidate.pathExtension == "json", FileManager.default.fileExists(atPath: candidate.path) else {
                    return ([], "the peer needs a tokenizer.json for a WordPiece vocabulary")
                }
                tokenizerFile = candidate
            }
            let texts = folder.appendingPathComponent("texts.json")
            try JSONSerialization.data(withJSONObject: workloads).write(to: texts)
            let (json, unavailable) = try PythonPeer(script: "hf_tokenizers.py")
                .run(arguments: [tokenizerFile.path, texts.path, String(max(1, repeats))], in: folder)
            guard let parsed = json as? [[String: Any]] else { return ([], unavailable ?? "unexpected output") }
            let results = parsed.map {
                Result(tokens: $0["tokens"] as? Int ?? 0, seconds: $0["seconds"] as? Double ?? .nan, checksum: $0["checksum"] as? Int ?? -1)
            }
            return (results, nil)
        }
    }
}
