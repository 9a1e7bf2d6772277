import ArgumentParser
import Bench
import CUDA
import CUDATransformer
import Dispatch
import Foundation
import Generator
import MedtuneCore
import ModelFiles
import Transformer

/// `medtune bench generate`: prefill and decode throughput, beside HF transformers and
/// llama.cpp's llama-bench measured in the same run: on the CPU, on a real model, against HF
/// float32 and llama-bench; on an NVIDIA GPU (`--device cuda`), on a random model of the given
/// shapes in bfloat16, against HF transformers bf16 (SDPA) on the same GPU.
struct BenchGenerateCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Prefill and decode tokens/s beside HF transformers and llama.cpp, on the CPU or an NVIDIA GPU.",
        discussion: """
            The HF peer runs when $MEDTUNE_PYTHON (else the Python of scripts/fetch-peers.sh, else python3) imports \
            torch and transformers: on the CPU it loads the same GGUF dequantized to float32 (scripts/peers/hf_generate.py); \
            on a GPU it builds a random bf16 model of the same shapes there (scripts/peers/hf_generate_cuda.py). \
            llama-bench (pp and tg tests) runs on the CPU when scripts/fetch-peers.sh has built it or it is on PATH.
            """)

    @Option(name: .long, help: "A GGUF file or HF folder (default: the Qwen2.5-Coder-0.5B GGUF in the asset cache; with --shape, a random model).")
    var model: String?
    @Option(help: "Measure a random model of these shapes instead of a file: 0.5b (Qwen2.5-0.5B) or 7b (DeepSeek-R1-Distill-Qwen-7B); the default on a GPU is 0.5b.")
    var shape: BenchTrainCommand.RandomShape?
    @Option(help: "Where medtune runs: cpu, or cuda[:N] (bfloat16 weights and activations).")
    var device = "cpu"
    @Option(name: .long, help: "Prompt tokens for the prefill measurement.")
    var promptTokens = 512
    @Option(name: .long, help: "Tokens generated for the decode measurement.")
    var newTokens = 128
    @Option(name: .long, parsing: .upToNextOption, help: "Batch sizes to measure.")
    var batch: [Int] = [1, 8]
    @Option(name: .long, parsing: .upToNextOption,
            help: ArgumentHelp("Precisions of medtune's products on the CPU, each measured in turn (see generate --precision).",
                               valueName: "float32|q8|bfloat16"))
    var precision: [MatrixPrecision] = [.float32, .q8]
    @Option(name: .long, help: "Threads for the CPU peers (medtune uses every core).")
    var threads = Parallel.threads
    @Flag(name: .long, help: "Skip the peers.")
    var noPeers = false

    struct Figures { var prefill: Double; var decode: Double }

    func validate() throws {
        if model != nil && shape != nil { throw ValidationError("give --model or --shape, not both") }
        guard promptTokens >= 8, newTokens >= 2, batch.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--prompt-tokens must be at least 8, --new-tokens at least 2 and every --batch at least 1")
        }
        guard !precision.isEmpty, precision.allSatisfy(\.isSupported) else {
            throw ValidationError("--precision: give float32, q8, or bfloat16 on a CPU with AVX-512 BF16")
        }
    }

    func run() throws {
        let choice = try DeviceChoice(parsing: device)
        if case .cuda = choice {
            try runOnGPU()
            return
        }
        guard choice == .cpu else { throw ValidationError("bench generate measures one device: --device cpu or cuda[:N]") }
        let path = model ?? ".cache/assets/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
        let loaded: Qwen2Model<Float>
        var weightBytes: Int?
        if let shape {
            loaded = try TrainingStepBenchmark.randomModel(shape.shape, storage: .bf16)
            print("model: random Qwen2, bf16 weights (\(shape.shape.summary))")
        } else {
            let checkpoint: ModelCheckpoint
            (loaded, checkpoint) = try Qwen2Model<Float>.load(path: path)
            print("model: \(path) (\(checkpoint.format.rawValue), \(checkpoint.config.layerCount) layers, hidden \(checkpoint.config.hiddenSize))")
            weightBytes = Self.bytesReadPerToken(checkpoint)
        }
        print("OpenBLAS kernel: \(OpenBLAS.shared.coreName), \(Parallel.threads) cores")
        var ours: [Measured] = []
        for b in batch {
            for precision in precision {
                ours.append(Measured(batch: b, precision: precision, figures: measure(loaded, batch: b, precision: precision) { tokens, pass in
                    _ = loaded.logits(tokens: tokens, pass: pass, rows: (0..<pass.batch).map { ($0 + 1) * pass.length - 1 })
                }))
            }
        }
        let memory = MemoryUsage.current()
        let bandwidth = MemoryBandwidth.measure()

        var hf: [Int: Figures] = [:], llama: Figures?
        var notes: [String] = []
        if !noPeers && shape == nil {
            (hf, _, notes) = try huggingFace(script: "hf_generate.py", [path, String(promptTokens), String(newTokens), String(threads),
                                                                        batch.map(String.init).joined(separator: ",")],
                                             describing: "HF transformers \(threads) threads, float32 weights dequantized from the same file")
            llama = llamaBench(path: path, notes: &notes)
        } else if !noPeers {
            notes.append("peers skipped: they measure files, and --shape makes a random model")
        }
        table(ours, hf: hf, peerName: "HF fp32", llama: llama)
        print(String(format: "memory read bandwidth: %.1f GB/s (%d threads streaming 256 MiB, best of 5)", bandwidth / 1e9, Parallel.threads))
        if let weightBytes {
            for mine in ours where mine.batch == 1 {
                let rate = Double(weightBytes) * mine.figures.decode
                print(String(format: "decode at batch 1, %@: %.0f MB of weights per token × %.1f tok/s = %.1f GB/s, %.0f%% of it",
                             mine.precision?.rawValue ?? "", Double(weightBytes) / 1e6, mine.figures.decode, rate / 1e9, 100 * rate / bandwidth))
            }
        }
        print(String(format: "medtune peak resident memory: %.0f MB", memory.peak / 1e6))
        notes.forEach { print("peer: \($0)") }
    }

    /// medtune on the GPU (a random bf16 model uploaded once) beside HF transformers bf16 on the
    /// same GPU, with each side's peak GPU memory.
    private func runOnGPU() throws {
        guard model == nil else { throw ValidationError("bench generate --device cuda measures a random model: give --shape, not --model") }
        let shape = self.shape ?? .halfB
        guard let gpu = try DeviceOptions.openGPU(try DeviceChoice(parsing: device), storage: .bfloat16) else { return }
        let cpuModel = try TrainingStepBenchmark.randomModel(shape.shape, storage: .bf16)
        let model = try CUDAQwen2Model(cpuModel, kernels: gpu.kernels, blas: gpu.blas)
        print("model: random Qwen2, bf16 (\(shape.shape.summary)) on \(gpu.kernels.device.info.summary)")
        var ours: [Measured] = []
        for b in batch {
            ours.append(Measured(batch: b, precision: nil, figures: measure(model, batch: b, precision: .float32) { tokens, pass in
                _ = model.prefill(tokens, pass: pass, cache: model.makeCache(batch: pass.batch, capacity: pass.length))
            }))
            try model.checkFailure()
        }
        var hf: [Int: Figures] = [:], notes: [String] = [], peerMemory: Double?
        if !noPeers {
            (hf, peerMemory, notes) = try huggingFace(script: "hf_generate_cuda.py",
                                                      ["--shape", shape.rawValue, "--prompt-tokens", String(promptTokens),
                                                       "--new-tokens", String(newTokens), "--batch", batch.map(String.init).joined(separator: ",")],
                                                      describing: "HF transformers bf16 (SDPA) on the same GPU, random weights of the same shapes")
        }
        table(ours, hf: hf, peerName: "HF bf16", llama: nil)
        print("peak GPU memory: medtune " + CUDADevice.gibibytes(model.peakMemory)
              + (peerMemory.map { ", HF " + CUDADevice.gibibytes(Int($0)) } ?? ""))
        notes.forEach { print("peer: \($0)") }
    }

    /// The stored bytes a decoding step reads: every tensor, less the token embedding where the
    /// output head is a matrix of its own (a step reads one row of the embedding).
    private static func bytesReadPerToken(_ checkpoint: ModelCheckpoint) -> Int {
        checkpoint.source.tensorEntries.reduce(0) { total, entry in
            let embedding = Qwen2TensorNames.canonical(ggufName: entry.name) == Qwen2TensorNames.embedding
            return total + (embedding && !checkpoint.config.tieWordEmbeddings ? 0 : entry.byteCount)
        }
    }

    /// medtune's figures at one batch size, in one CPU precision (nil on a GPU).
    struct Measured { var batch: Int; var precision: MatrixPrecision?; var figures: Figures }

    private func table(_ ours: [Measured], hf: [Int: Figures], peerName: String, llama: Figures?) {
        print(String(repeating: "-", count: 96))
        print(tableCell("measurement", 40) + tableCell("medtune", 12) + tableCell(peerName, 12) + tableCell("ratio", 8) + tableCell("llama.cpp", 12) + "ratio")
        for mine in ours {
            let b = mine.batch, suffix = mine.precision.map { ", \($0.rawValue)" } ?? ""
            for (name, value, peer, cpp) in [("prefill \(promptTokens) tok/s, batch \(b)\(suffix)", mine.figures.prefill, hf[b]?.prefill,
                                              b == 1 ? llama?.prefill : nil),
                                             ("decode \(newTokens) tok/s, batch \(b)\(suffix)", mine.figures.decode, hf[b]?.decode,
                                              b == 1 ? llama?.decode : nil)] {
                print(tableCell(name, 40) + tableCell(String(format: "%.1f", value), 12)
                      + tableCell(peer.map { String(format: "%.1f", $0) } ?? "-", 12) + tableCell(peer.map { String(format: "%.2f", value / $0) } ?? "-", 8)
                      + tableCell(cpp.map { String(format: "%.1f", $0) } ?? "-", 12) + (cpp.map { String(format: "%.2f", value / $0) } ?? "-"))
            }
        }
    }

    /// Prefill of `promptTokens` per sequence (after one untimed prefill that loads and plans
    /// everything); decode of `newTokens` after an 8-token prompt (the prompt's own time
    /// subtracted), greedy, no end-of-sequence; the products in `precision`.
    private func measure<Model: DecodingModel>(_ model: Model, batch: Int, precision: MatrixPrecision,
                                               prefill: ([Int32], ForwardPass) -> Void) -> Figures
        where Model.Element == Float {
        var rng = SplitMix64(seed: 42)
        let prompt = (0..<batch * promptTokens).map { _ in Int32(1000 + rng.next() % 20000) }
        let pass = ForwardPass(batch: batch, length: promptTokens, useAdapter: false, matrixPrecision: precision)
        prefill(prompt, pass)
        let prefillSeconds = time { prefill(prompt, pass) }
        let short = (0..<batch).map { b in Array(prompt[(b * promptTokens)..<(b * promptTokens + 8)]) }
        var options = SamplingOptions()
        options.maxNewTokens = 1
        let generator = TokenGenerator(model: model, endOfSequence: [], padID: 0, matrixPrecision: precision)
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

    /// A Python peer's figures per batch size (and its peak GPU memory, when it reports one).
    private func huggingFace(script: String, _ arguments: [String], describing: String) throws
        -> (figures: [Int: Figures], peakGPUMemory: Double?, notes: [String]) {
        try PythonPeer.withTemporaryFolder { folder in
            let (json, unavailable) = try PythonPeer(script: script).run(arguments: arguments, in: folder)
            guard let results = json as? [String: Any] else { return ([:], nil, ["HF transformers not run (\(unavailable ?? "no output"))"]) }
            var figures: [Int: Figures] = [:]
            for (b, values) in results {
                if let b = Int(b), let values = values as? [String: Double], let p = values["prefill"], let d = values["decode"] {
                    figures[b] = Figures(prefill: p, decode: d)
                }
            }
            let versions = (results["versions"] as? [String: String]).map { " (" + $0.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")" } ?? ""
            return (figures, results["peak_gpu_memory_bytes"] as? Double, [describing + versions])
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
