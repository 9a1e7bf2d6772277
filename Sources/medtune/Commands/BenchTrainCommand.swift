import ArgumentParser
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
    @Option(help: "The random model's shapes: 0.5b (Qwen2.5-0.5B) or 7b (DeepSeek-R1-Distill-Qwen-7B; no peer).")
    var shape: RandomShape = .halfB
    @Option(help: "How the random model stores its frozen matrices: f32, f16 or bf16.")
    var storage: RandomStorage = .f32
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
    var precision: [MatrixPrecision] = MatrixPrecision.allCases.filter(\.isSupported)
    @Flag(help: "Recompute layers in backward (activation checkpointing).")
    var checkpointing = false
    @Option(help: "Threads for the peer (medtune uses every core).")
    var threads = Parallel.threads
    @Flag(help: "Skip the HF transformers + PEFT peer.")
    var noPeer = false

    func validate() throws {
        guard batch >= 1, length >= 2 else { throw ValidationError("--batch must be at least 1 and --length at least 2") }
        guard steps >= 1, warmUpSteps >= 0 else { throw ValidationError("--steps must be at least 1 and --warm-up-steps at least 0") }
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
        print(pad("", 26) + pad("step s", 10) + pad("tok/s", 10) + pad("GFLOP/s", 10) + pad("of sgemm", 10)
              + ours.map { pad("\($0.0.rawValue) ÷ peer", 18) }.joined())
        for (precision, result) in ours {
            print(pad("medtune \(precision.rawValue)", 26) + pad(String(format: "%.2f", result.best), 10)
                  + pad(String(format: "%.1f", result.tokensPerSecond), 10) + pad(String(format: "%.1f", result.gflops), 10)
                  + pad(String(format: "%.0f%%", 100 * result.gflops / sgemm), 10))
        }
        for run in peer.runs {
            let rate = Double(batch * length) / run.seconds
            print(pad("HF+PEFT \(run.dtype)", 26) + pad(String(format: "%.2f", run.seconds), 10) + pad(String(format: "%.1f", rate), 10)
                  + pad(String(format: "%.1f", flopsPerStep / run.seconds / 1e9), 10) + pad("", 10)
                  + ours.map { pad(String(format: "%.2f", $0.1.tokensPerSecond / rate), 18) }.joined())
        }
        print(String(format: "peak resident memory: medtune %.0f MB", memory.peak / 1e6)
              + peer.runs.map { ", HF+PEFT \($0.dtype) " + String(format: "%.0f MB", $0.peakBytes / 1e6) }.joined())
        peer.notes.forEach { print("peer: \($0)") }
    }

    enum RandomShape: String, ExpressibleByArgument, CaseIterable {
        case halfB = "0.5b", sevenB = "7b"
        var shape: TrainingStepBenchmark.Shape { self == .halfB ? .qwen25HalfB : .qwen2SevenB }
    }

    enum RandomStorage: String, ExpressibleByArgument, CaseIterable {
        case f32, f16, bf16
        var type: StorageType { self == .f32 ? .f32 : self == .f16 ? .f16 : .bf16 }
    }

    private func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }

    struct PeerFigures {
        struct Run { var dtype: String; var seconds: Double; var peakBytes: Double }
        var runs: [Run] = []
        var notes: [String] = []
    }

    static let peerScript = """
        import json, os, sys, time
        import torch
        from transformers import AutoModelForCausalLM, Qwen2Config, Qwen2ForCausalLM
        from peft import LoraConfig, get_peft_model
        import resource
        path, batch, length, rank, targets, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split(","), int(sys.argv[6]), int(sys.argv[7])
        checkpointing, dtype, warm_up = sys.argv[8] == "1", sys.argv[9], int(sys.argv[10])
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        def build(dtype):
            if path == "random":
                config = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                     num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1e6)
                return Qwen2ForCausalLM(config).to(dtype)
            if path.endswith(".gguf"):
                return AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path), dtype=dtype)
            return AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model = build(getattr(torch, dtype))
        if checkpointing:
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()
        model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=targets, task_type="CAUSAL_LM"))
        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=1e-4)
        ids = torch.randint(0, model.config.vocab_size, (batch, length))
        def step():
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            optimizer.zero_grad()
        for _ in range(warm_up):
            step()
        times = []
        for _ in range(steps):
            start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
        print(json.dumps({"seconds": min(times), "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
        """

    /// One peer process per dtype, so that each peak resident memory is its own.
    private func huggingFace() throws -> PeerFigures {
        try PythonPeer.withTemporaryFolder { folder in
            var figures = PeerFigures()
            for dtype in ["float32", "bfloat16"] {
                let (json, unavailable) = try PythonPeer(script: Self.peerScript).run(
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
