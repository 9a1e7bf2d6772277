import ArgumentParser
import Bench
import Dispatch
import Foundation
import Generator
import MedtuneCore
import Transformer

/// `medtune bench generate`: prefill and decode throughput on a real model, beside HF
/// transformers (float32, CPU) and llama.cpp's llama-bench measured in the same run when present.
struct BenchGenerateCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Prefill and decode tokens/s beside HF transformers and llama.cpp on the same model.",
        discussion: """
            The HF peer runs when $MEDTUNE_PYTHON (else the Python of scripts/fetch-peers.sh, else python3) imports \
            torch, transformers and gguf; it loads the same GGUF dequantized to float32. llama-bench (pp and tg tests) \
            runs when scripts/fetch-peers.sh has built it or it is on PATH.
            """)

    @Option(name: .long, help: "A GGUF file or HF folder (default: the Qwen2.5-Coder-0.5B GGUF in the asset cache).")
    var model: String?
    @Option(name: .long, help: "Prompt tokens for the prefill measurement.")
    var promptTokens = 512
    @Option(name: .long, help: "Tokens generated for the decode measurement.")
    var newTokens = 128
    @Option(name: .long, parsing: .upToNextOption, help: "Batch sizes to measure.")
    var batch: [Int] = [1, 8]
    @Option(name: .long, help: "Threads for the peers (medtune uses every core).")
    var threads = Parallel.threads
    @Flag(name: .long, help: "Skip the peers.")
    var noPeers = false

    struct Figures { var prefill: Double; var decode: Double }

    func run() throws {
        let path = model ?? ".cache/assets/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
        let (loaded, checkpoint) = try Qwen2Model<Float>.load(path: path)
        print("model: \(path) (\(checkpoint.format.rawValue), \(checkpoint.config.layerCount) layers, hidden \(checkpoint.config.hiddenSize))")
        print("OpenBLAS kernel: \(OpenBLAS.shared.coreName), \(Parallel.threads) cores")
        var ours: [Int: Figures] = [:]
        for b in batch { ours[b] = measure(loaded, batch: b) }
        let memory = MemoryUsage.current()

        var hf: [Int: Figures] = [:], llama: Figures?
        var notes: [String] = []
        if !noPeers {
            (hf, notes) = try huggingFace(path: path)
            llama = llamaBench(path: path, notes: &notes)
        }
        print(String(repeating: "-", count: 86))
        print(tableCell("measurement", 30) + tableCell("medtune", 12) + tableCell("HF fp32", 12) + tableCell("ratio", 8) + tableCell("llama.cpp", 12) + "ratio")
        for b in batch {
            guard let mine = ours[b] else { continue }
            for (name, value, peer, cpp) in [("prefill \(promptTokens) tok/s, batch \(b)", mine.prefill, hf[b]?.prefill, b == 1 ? llama?.prefill : nil),
                                             ("decode \(newTokens) tok/s, batch \(b)", mine.decode, hf[b]?.decode, b == 1 ? llama?.decode : nil)] {
                print(tableCell(name, 30) + tableCell(String(format: "%.1f", value), 12)
                      + tableCell(peer.map { String(format: "%.1f", $0) } ?? "-", 12) + tableCell(peer.map { String(format: "%.2f", value / $0) } ?? "-", 8)
                      + tableCell(cpp.map { String(format: "%.1f", $0) } ?? "-", 12) + (cpp.map { String(format: "%.2f", value / $0) } ?? "-"))
            }
        }
        print(String(format: "medtune peak resident memory: %.0f MB", memory.peak / 1e6))
        notes.forEach { print("peer: \($0)") }
    }

    /// Prefill of `promptTokens` per sequence; decode of `newTokens` after an 8-token prompt
    /// (the prompt's own time subtracted), greedy, no end-of-sequence.
    private func measure(_ model: Qwen2Model<Float>, batch: Int) -> Figures {
        var rng = SplitMix64(seed: 42)
        let prompt = (0..<batch * promptTokens).map { _ in Int32(1000 + rng.next() % 20000) }
        let prefillSeconds = time {
            _ = model.logits(tokens: prompt, pass: ForwardPass(batch: batch, length: promptTokens, useAdapter: false),
                             rows: (0..<batch).map { ($0 + 1) * promptTokens - 1 })
        }
        let short = (0..<batch).map { b in Array(prompt[(b * promptTokens)..<(b * promptTokens + 8)]) }
        var options = SamplingOptions()
        options.maxNewTokens = 1
        let generator = TokenGenerator(model: model, endOfSequence: [], padID: 0)
        let first = time { _ = generator.generate(prompts: short, options: options, useAdapter: false) }
        options.maxNewTokens = newTokens
        let all = time { _ = generator.generate(prompts: short, options: options, useAdapter: false) }
        return Figures(prefill: Double(batch * promptTokens) / prefillSeconds,
                       decode: Double(batch * (newTokens - 1)) / max(all - first, 1e-9))
    }

    private func time(_ work: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        work()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private func huggingFace(path: String) throws -> ([Int: Figures], [String]) {
        try PythonPeer.withTemporaryFolder { folder in
            let (json, unavailable) = try PythonPeer(script: "hf_generate.py").run(
                arguments: [path, String(promptTokens), String(newTokens), String(threads), batch.map(String.init).joined(separator: ",")],
                in: folder)
            guard let results = json as? [String: [String: Double]] else { return ([:], ["HF transformers not run (\(unavailable ?? "no output"))"]) }
            var figures: [Int: Figures] = [:]
            for (b, values) in results {
                if let b = Int(b), let p = values["prefill"], let d = values["decode"] { figures[b] = Figures(prefill: p, decode: d) }
            }
            return (figures, ["HF transformers \(threads) threads, float32 weights dequantized from the same file"])
        }
    }

    /// llama-bench's pp/tg averages (tokens/s) on the same GGUF, when it is installed.
    private func llamaBench(path: String, notes: inout [String]) -> Figures? {
        guard path.hasSuffix(".gguf") else { return nil }
        let peer: PeerRun
        do {
            peer = try PeerProcess.run(PeerPrograms.llamaBench, ["-m", path, "-p", String(promptTokens), "-n", String(newTokens),
                                                                "-t", String(threads), "-o", "json"])
        } catch {
            notes.append("llama-bench not run (not built by scripts/fetch-peers.sh, not on PATH)")
            return nil
        }
        guard peer.succeeded, let rows = (try? JSONSerialization.jsonObject(with: Data(peer.output))) as? [[String: Any]] else {
            notes.append("llama-bench not run (not found, or it failed)")
            return nil
        }
        var prefill = Double.nan, decode = Double.nan
        for row in rows {
            let rate = row["avg_ts"] as? Double ?? .nan
            if (row["n_prompt"] as? Int ?? 0) > 0 { prefill = rate } else if (row["n_gen"] as? Int ?? 0) > 0 { decode = rate }
        }
        notes.append("llama-bench \(threads) threads")
        return Figures(prefill: prefill, decode: decode)
    }
}
