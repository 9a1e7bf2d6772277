import ArgumentParser
import Bench
import CUDATransformer
import Dispatch
import Foundation
import MedtuneCore
import ModelFiles
import Trainer
import Transformer

extension MatrixPrecision: ExpressibleByArgument {}

/// `medtune bench train`: tokens/s of full LoRA training steps (forward, backward, clipping,
/// AdamW) with the frozen-weight products in float32 and in bfloat16 (where the CPU has
/// AVX-512 BF16), the matrix GFLOP/s they reach against this machine's sgemm, and the same step
/// in HF transformers + PEFT (float32 and bfloat16) measured in the same run.
struct BenchTrainCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Tokens/s of a full LoRA training step (float32 and bfloat16 products) beside HF transformers + PEFT.",
        discussion: """
            Without --model, both sides use a randomly initialised model with Qwen2.5-0.5B's shapes \
            (24 layers, hidden 896, 14 heads, 2 KV heads, intermediate 4864, vocabulary 151936). The peer \
            runs when $MEDTUNE_PYTHON (else the Python of scripts/fetch-peers.sh, else python3) imports torch, transformers and peft.
            """)

    @Option(help: ArgumentHelp("A GGUF file or HF folder to train instead of the random model.", valueName: "PATH"))
    var model: String?
    @Option(help: "The random model's shapes: 0.5b (Qwen2.5-0.5B) or 7b (DeepSeek-R1-Distill-Qwen-7B; no peer on the CPU).")
    var shape: RandomShape = .halfB
    @Option(help: "How the random model stores its frozen matrices: f32, f16 or bf16.")
    var storage: FloatStorage = .f32
    @Option(help: "Sequences per micro-batch.")
    var batch = 2
    @Option(help: "Tokens per sequence.")
    var length = 512
    @Option(help: "LoRA rank.")
    var rank = 16
    @Option(help: "LoRA target modules, comma-separated.")
    var targets = "q_proj,v_proj"
    @Option(help: "Timed steps (after the warm-up steps); the fastest is reported.")
    var steps = 2
    @Option(help: "Untimed steps before the timed ones.")
    var warmUpSteps = 1
    @Option(help: ArgumentHelp("Precision of medtune's frozen-weight products: float32 or bfloat16 (repeatable; default: every one this CPU has).",
                               valueName: "precision"))
    var precision: [MatrixPrecision] = [.float32, .bfloat16].filter(\.isSupported)
    @Flag(help: "Recompute layers in backward (activation checkpointing).")
    var checkpointing = false
    @Option(help: "Threads for the peer (medtune uses every core).")
    var threads = Parallel.threads
    @Flag(help: "Skip the HF transformers + PEFT peer.")
    var noPeer = false
    @Option(help: "Where medtune trains: cpu, or cuda[:N] (bfloat16 weights and activations; the random model's frozen matrices are bf16, and the peer runs on the same GPU).")
    var device = "cpu"

    @Flag(help: "With --device cuda, run one more step that times each part of the pass (synchronising after each) and print them.")
    var profile = false

    func validate() throws {
        guard batch >= 1, length >= 2 else { throw ValidationError("--batch must be at least 1 and --length at least 2") }
        guard steps >= 1, warmUpSteps >= 0 else { throw ValidationError("--steps must be at least 1 and --warm-up-steps at least 0") }
        guard !precision.contains(.q8) else {
            throw ValidationError("--precision: training computes in float32 or bfloat16 (q8 is for inference)")
        }
        guard !precision.isEmpty, precision.allSatisfy(\.isSupported) else {
            throw ValidationError("bfloat16 products need a CPU with AVX-512 BF16, which this one lacks")
        }
    }

    func run() throws {
        var config = TrainingConfig()
        config.loraR = rank
        config.loraAlpha = Double(2 * rank)
        config.targetModules = targets.split(separator: ",").map { String($0) }
        config.gradientCheckpointing = checkpointing
        config.model = model ?? "random"
        config.data = "random"
        try config.validate(source: "--targets")
        let choice = try DeviceChoice(parsing: device)
        if choice != .cpu {
            guard model == nil else { throw ValidationError("bench train --device cuda measures a random model: leave out --model") }
            guard let gpu = try DeviceOptions.openGPU(choice, storage: .bfloat16) else { throw ValidationError("--device \(device): no GPU found") }
            return try runOnGPU(gpu, config: config)
        }

        let loaded: Qwen2Model<Float>
        if let model {
            loaded = try Qwen2Model<Float>.load(path: model).model
            print("model: \(model) (\(loaded.layers.count) layers, hidden \(loaded.hiddenSize), vocabulary \(loaded.vocabulary))")
        } else {
            loaded = try TrainingStepBenchmark.randomModel(shape.shape, storage: storage.type)
            print("model: random Qwen2, frozen matrices stored as \(storage.type.name) (\(shape.shape.summary))")
        }
        print("step: micro-batch \(batch) × \(length) tokens, LoRA r \(rank) on \(config.targetModules.joined(separator: ", ")), AdamW, clipping"
              + (checkpointing ? ", activation checkpointing" : ""))
        let sgemm = GEMMProbe.gflops(m: 1024, n: 4864, k: 896)
        let ours = try precision.map { precision in
            config.matmulPrecision = .init(precision)
            return (precision, try TrainingStepBenchmark.run(model: loaded, config: config, batch: batch, length: length,
                                                             steps: steps, warmUp: warmUpSteps))
        }
        let memory = MemoryUsage.current()
        let peer = noPeer || (model == nil && shape != .halfB) ? PeerFigures(notes: ["peer skipped"]) : try huggingFace()

        print(String(repeating: "-", count: 78))
        print(String(format: "sgemm 1024×896·896×4864 in this process: %.1f GFLOP/s", sgemm))
        let flopsPerStep = ours[0].1.flopsPerStep
        print(String(format: "matrix work per step: %.2f TFLOP", flopsPerStep / 1e12))
        if !MatrixPrecision.bfloat16.isSupported { print("medtune bfloat16: not available (the CPU lacks AVX-512 BF16)") }
        print(tableCell("", 26) + tableCell("step s", 10) + tableCell("tok/s", 10) + tableCell("GFLOP/s", 10) + tableCell("of sgemm", 10)
              + ours.map { tableCell("\($0.0.rawValue) ÷ peer", 18) }.joined())
        for (precision, result) in ours {
            print(tableCell("medtune \(precision.rawValue)", 26) + tableCell(String(format: "%.2f", result.best), 10)
                  + tableCell(String(format: "%.1f", result.tokensPerSecond), 10) + tableCell(String(format: "%.1f", result.gflops), 10)
                  + tableCell(String(format: "%.0f%%", 100 * result.gflops / sgemm), 10))
        }
        for run in peer.runs {
            let rate = Double(batch * length) / run.seconds
            print(tableCell("HF+PEFT \(run.dtype)", 26) + tableCell(String(format: "%.2f", run.seconds), 10) + tableCell(String(format: "%.1f", rate), 10)
                  + tableCell(String(format: "%.1f", flopsPerStep / run.seconds / 1e9), 10) + tableCell("", 10)
                  + ours.map { tableCell(String(format: "%.2f", $0.1.tokensPerSecond / rate), 18) }.joined())
        }
        print(String(format: "peak resident memory: medtune %.0f MB", memory.peak / 1e6)
              + peer.runs.map { ", HF+PEFT \($0.dtype) " + String(format: "%.0f MB", $0.peakBytes / 1e6) }.joined())
        peer.notes.forEach { print("peer: \($0)") }
    }

    /// The step on a GPU beside HF + PEFT on the same GPU: tokens/s, TFLOP/s against a cuBLASLt
    /// bf16 GEMM timed in this process, peak GPU memory, and the tutorial job's projected time.
    private func runOnGPU(_ gpu: DeviceOptions.GPU, config: TrainingConfig) throws {
        var config = config
        config.matmulPrecision = .bfloat16
        let info = gpu.kernels.device.info
        let loaded = try TrainingStepBenchmark.randomModel(shape.shape, storage: .bf16)
        print("model: random Qwen2, bf16 (\(shape.shape.summary)) on \(info.name)")
        print("step: micro-batch \(batch) × \(length) tokens, LoRA r \(rank) on \(config.targetModules.joined(separator: ", ")), AdamW, clipping"
              + (checkpointing ? ", activation checkpointing" : ""))
        let gemm = try Self.gemmRate(gpu)
        let trainingDevice = TrainingDevice.cuda(gpu, name: device)
        var profiled: (parts: PassProfile, step: StepResult)?
        let ours = try TrainingStepBenchmark.run(model: loaded, config: config, batch: batch, length: length, steps: steps,
                                                 warmUp: warmUpSteps, device: trainingDevice) { model, step in
            guard profile, let trainer = model as? CUDAQwen2Trainer else { return }
            let parts = PassProfile()
            trainer.profile = parts
            defer { trainer.profile = nil }
            profiled = (parts, try step())
        }
        let peak = Double(trainingDevice.memory?().peak ?? 0)
        var peer: (seconds: Double, peak: Double)?, note = "peer skipped"
        if !noPeer {
            let (json, unavailable) = try PythonPeer.withTemporaryFolder { folder in
                try PythonPeer(script: "hf_peft_train_cuda.py").run(
                    arguments: ["--shape", shape.rawValue, "--batch", String(batch), "--length", String(length), "--rank", String(rank),
                                "--targets", targets, "--steps", String(steps), "--warm-up", String(warmUpSteps)] + (checkpointing ? ["--checkpointing"] : []),
                    in: folder)
            }
            if let result = json as? [String: Double], let seconds = result["seconds"], let bytes = result["peak_bytes"] {
                peer = (seconds, bytes)
                note = "HF transformers + PEFT bf16 (SDPA) on the same GPU, same shapes, random tokens, best of \(steps) steps"
            } else {
                note = "HF transformers + PEFT not run (\(unavailable ?? "no output"))"
            }
        }
        print(String(repeating: "-", count: 78))
        print(String(format: "cuBLASLt bf16 GEMM 8192³ in this process: %.0f TFLOP/s; matrix work per step: %.2f TFLOP", gemm, ours.flopsPerStep / 1e12))
        print(tableCell("", 22) + tableCell("step s", 10) + tableCell("tok/s", 10) + tableCell("TFLOP/s", 10) + tableCell("of GEMM", 10)
              + tableCell("peak GiB", 10) + "tutorial job (2.3 M tokens)")
        func row(_ label: String, seconds: Double, peakBytes: Double) {
            let rate = Double(batch * length) / seconds, tflops = ours.flopsPerStep / seconds / 1e12
            print(tableCell(label, 22) + tableCell(String(format: "%.3f", seconds), 10) + tableCell(String(format: "%.0f", rate), 10)
                  + tableCell(String(format: "%.0f", tflops), 10) + tableCell(String(format: "%.0f%%", 100 * tflops / gemm), 10)
                  + tableCell(String(format: "%.1f", peakBytes / Double(1 << 30)), 10) + String(format: "%.1f min", 2.3e6 / rate / 60))
        }
        row("medtune cuda bf16", seconds: ours.best, peakBytes: peak)
        if let peer {
            row("HF+PEFT cuda bf16", seconds: peer.seconds, peakBytes: peer.peak)
            print(String(format: "medtune ÷ peer: %.2f× the tokens/s, %.2f× the peak GPU memory", peer.seconds / ours.best, peak / peer.peak))
        }
        print("peer: \(note)")
        if let profiled { Self.printProfile(profiled.parts, step: profiled.step) }
    }

    /// The profiled step's parts, longest first, with what the step spent outside the pass
    /// (clipping and the optimiser, on the CPU, and the batch's preparation).
    static func printProfile(_ parts: PassProfile, step: StepResult) {
        let stepSeconds = step.seconds
        print(String(repeating: "-", count: 78))
        print(String(format: "one profiled step (a synchronisation after each part): %.1f ms: the pass %.1f ms (its parts %.1f ms), the update %.1f ms",
                     stepSeconds * 1e3, step.passSeconds * 1e3, parts.seconds * 1e3, step.updateSeconds * 1e3))
        print(tableCell("part", 34) + tableCell("ms", 10) + tableCell("share", 8) + "calls")
        for part in parts.parts.sorted(by: { $0.seconds > $1.seconds }) {
            print(tableCell(part.name, 34) + tableCell(String(format: "%.2f", part.seconds * 1e3), 10)
                  + tableCell(String(format: "%.1f%%", 100 * part.seconds / stepSeconds), 8) + "\(part.calls)")
        }
        print(tableCell("outside the pass", 34) + tableCell(String(format: "%.2f", (stepSeconds - parts.seconds) * 1e3), 10)
              + String(format: "%.1f%%", 100 * (stepSeconds - parts.seconds) / stepSeconds))
    }

    /// TFLOP/s of a bf16 GEMM of 8192³ through cuBLASLt on `gpu` (mean of 20 after 3 warm-ups).
    static func gemmRate(_ gpu: DeviceOptions.GPU) throws -> Double {
        let size = 8192, device = gpu.kernels.device
        let a = try device.allocate(bytes: 2 * size * size), b = try device.allocate(bytes: 2 * size * size)
        let c = try device.allocate(bytes: 2 * size * size)
        try device.zero(a, bytes: a.bytes)
        try device.zero(b, bytes: b.bytes)
        let seconds = try device.meanSeconds(of: 20) {
            try gpu.blas.multiply(a: a, b: b, c: c, m: size, n: size, k: size, output: .bfloat16)
        }
        return 2 * pow(Double(size), 3) / seconds / 1e12
    }

    enum RandomShape: String, ExpressibleByArgument, CaseIterable {
        case halfB = "0.5b", sevenB = "7b"
        var shape: TrainingStepBenchmark.Shape { self == .halfB ? .qwen25HalfB : .qwen2SevenB }
    }

    struct PeerFigures {
        struct Run { var dtype: String; var seconds: Double; var peakBytes: Double }
        var runs: [Run] = []
        var notes: [String] = []
    }

    /// One peer process per dtype, so that each peak resident memory is its own.
    private func huggingFace() throws -> PeerFigures {
        try PythonPeer.withTemporaryFolder { folder in
            var figures = PeerFigures()
            for dtype in ["float32", "bfloat16"] {
                let (json, unavailable) = try PythonPeer(script: "hf_peft_train_step.py").run(
                    arguments: [model ?? "random", String(batch), String(length), String(rank), targets, String(steps), String(threads),
                                checkpointing ? "1" : "0", dtype, String(warmUpSteps)],
                    in: folder)
                guard let result = json as? [String: Double], let seconds = result["seconds"], let peak = result["peak_bytes"] else {
                    figures.notes.append("HF transformers + PEFT \(dtype) not run (\(unavailable ?? "no output"))")
                    continue
                }
                figures.runs.append(.init(dtype: dtype, seconds: seconds, peakBytes: peak))
            }
            if !figures.runs.isEmpty {
                figures.notes.append("HF transformers + PEFT, \(threads) threads, same shapes, random tokens, best of \(steps) steps, one process per dtype")
            }
            return figures
        }
    }
}
