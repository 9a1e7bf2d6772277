import ArgumentParser
import CUDA
import CUDATransformer
import Foundation
import Generator
import Hub
import MedtuneCore
import ModelFiles
import Tokenizers
import Transformer

/// Where the model comes from, for every command that runs one.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "The model: a Hugging Face folder (config.json, *.safetensors, tokenizer.json), a .gguf file, or a repository id (owner/name[@revision]) resolved through the download cache.")
    var model: String

    @Option(name: .long, help: "A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors) or repository id.")
    var adapter: String?

    @Flag(name: .long, help: "Download a repository id that is not in the cache yet.")
    var download = false

    /// The local paths of the model and the adapter.
    func resolved() throws -> (model: String, adapter: String?) {
        (try Hub.resolveModel(model, allowDownload: download).path, try adapter.map { try Hub.resolveModel($0, allowDownload: download).path })
    }
}

/// Where a command's model runs: `--device auto|cpu|cuda[:N]`, and in what precision.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "Where the model runs: cpu, cuda or cuda:N (an NVIDIA GPU), or auto (GPU 0 when a driver and a GPU are present, else the CPU).")
    var device = "cpu"

    @Option(name: .long, help: ArgumentHelp("""
        The products with the weights. On a GPU, weights and activations in bfloat16 (the default there, fast) or float32 \
        (exact, for checks). On the CPU, float32 (the default there, exact), q8 (activations quantized to 8 bits and \
        multiplied in integers with GGUF block weights, as llama.cpp does: the fastest decoding) or bfloat16 \
        (prompt products on AVX-512 BF16).
        """, valueName: "float32|bfloat16|q8"))
    var precision: MatrixPrecision?

    /// The precision of the CPU model's products: float32 unless `--precision` says otherwise.
    var cpuPrecision: MatrixPrecision { precision ?? .float32 }

    /// The GPU that `--device` names, with its kernels (in `--precision`) and cuBLASLt; nil for
    /// the CPU. Called before the model loads, so that a missing driver or GPU, or a precision
    /// the chosen device lacks, is reported at once.
    func openGPU() throws -> GPU? {
        let gpu = try Self.openGPU(try DeviceChoice(parsing: device), storage: precision == .float32 ? .float32 : .bfloat16)
        if gpu != nil, precision == .q8 {
            throw InputError(at: "--precision q8", "8-bit activations run on the CPU; a GPU computes in bfloat16 or float32")
        }
        if gpu == nil, !cpuPrecision.isSupported {
            throw InputError(at: "--precision \(cpuPrecision.rawValue)", "this CPU lacks AVX-512 BF16 (avx512_bf16); use float32 or q8")
        }
        return gpu
    }

    static func openGPU(_ choice: DeviceChoice, storage: CUDAKernelSource.Storage) throws -> GPU? {
        if choice == .cpu { return nil }
        let driver: CUDADriver
        do {
            driver = try CUDADriver.load()
        } catch where choice == .auto {
            return nil
        }
        if choice == .auto, try driver.devices().isEmpty { return nil }
        let ordinal = if case .cuda(let index) = choice { index } else { 0 }
        let gpu = try CUDADevice(driver: driver, ordinal: ordinal)
        return GPU(kernels: try CUDAKernels(device: gpu, nvrtc: try NVRTC.load(), cache: KernelCache(), storage: storage),
                   blas: try CuBLASLt.load().session(on: gpu))
    }

    /// A GPU ready for a model: its kernels and a cuBLASLt session on its stream.
    struct GPU {
        let kernels: CUDAKernels
        let blas: CuBLASLt.Session
    }

    /// The model that generation runs: the session's CPU model, or its copy on `gpu`.
    static func model(_ session: ModelSession, on gpu: GPU?) throws -> any DecodingModel<Float> {
        guard let gpu else { return session.model }
        return try CUDAQwen2Model(session.model, kernels: gpu.kernels, blas: gpu.blas)
    }

    /// Throws what failed on the GPU during the last generation: `DecodingModel` passes cannot
    /// throw, so a GPU model keeps its first failure for the caller.
    static func check(_ model: any DecodingModel<Float>) throws {
        try (model as? CUDAQwen2Model)?.checkFailure()
    }
}

/// Sampling flags shared by generate, compare and score.
struct SamplingFlags: ParsableArguments {
    @Flag(name: .long, help: "Sample from the distribution instead of greedy decoding.")
    var sample = false
    @Option(name: .long, help: "Softmax temperature (sampling); 0 means greedy.")
    var temperature = 1.0
    @Option(name: .long, help: "Keep the k most likely tokens; 0 keeps all (sampling).")
    var topK = 50
    @Option(name: .long, help: "Keep the smallest set of tokens with this much probability (sampling).")
    var topP = 1.0
    @Option(name: .long, help: "Drop tokens below this fraction of the top token's probability (sampling).")
    var minP = 0.0
    @Option(name: .long, help: "Penalise tokens already in the prompt or the answer (HF semantics); 1 disables.")
    var repetitionPenalty = 1.0
    @Option(name: .long, help: "Seed of the sampler; the same seed gives the same answers.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Most tokens to generate per answer.")
    var maxNewTokens = 256
    @Option(name: .long, help: "Stop an answer where this text appears (repeatable).")
    var stop: [String] = []

    func options() throws -> SamplingOptions {
        var options = SamplingOptions()
        options.sample = sample
        options.temperature = temperature
        options.topK = topK
        options.topP = topP
        options.minP = minP
        options.repetitionPenalty = repetitionPenalty
        options.seed = seed
        options.maxNewTokens = maxNewTokens
        try options.validate()
        return options
    }
}

/// A loaded model with its tokenizer and the facts generation needs.
struct ModelSession {
    let checkpoint: ModelCheckpoint
    let model: Qwen2Model<Float>
    let tokenizer: BPETokenizer
    let adapter: PEFTAdapterConfig?

    init(_ options: ModelOptions, adapterDropout: Double? = nil) throws {
        try self.init(paths: try options.resolved(), named: options.model, adapterDropout: adapterDropout)
    }

    /// A model (and adapter) at local paths; `named` is the model as the user wrote it.
    init(paths: (model: String, adapter: String?), named: String, adapterDropout: Double? = nil) throws {
        (model, checkpoint) = try Qwen2Model<Float>.load(path: paths.model)
        tokenizer = try TokenizerLoader.loadBPE(path: paths.model)
        guard tokenizer.vocabularySize <= model.vocabulary else {
            throw InputError(file: named, "the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(model.vocabulary)")
        }
        if let path = paths.adapter {
            adapter = try PEFTAdapter.load(path, into: model, dropout: adapterDropout)
        } else {
            adapter = nil
        }
    }

    /// Every id that ends an answer: the tokenizer's EOS, the ids of generation_config.json, and
    /// the end-of-turn tokens of the chat formats medtune knows.
    var endOfSequence: Set<Int32> {
        var ids = Set<Int32>()
        if let eos = tokenizer.eosTokenId { ids.insert(Int32(eos)) }
        for text in ["<|endoftext|>", "<|im_end|>", "<｜end▁of▁sentence｜>"] {
            if let id = tokenizer.tokenId(text) { ids.insert(Int32(id)) }
        }
        let generationConfig = URL(fileURLWithPath: checkpoint.path).appendingPathComponent("generation_config.json")
        if let data = try? Data(contentsOf: generationConfig),
           let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            if let one = json["eos_token_id"] as? Int { ids.insert(Int32(one)) }
            if let many = json["eos_token_id"] as? [Int] { ids.formUnion(many.map(Int32.init)) }
        }
        return ids
    }

    /// A generator of this session's model, or of `model` (its copy on a GPU, which computes in
    /// its own precision); `precision` is that of the CPU model's products.
    func textGenerator(stopStrings: [String], model: (any DecodingModel<Float>)? = nil, precision: MatrixPrecision = .float32) -> TextGenerator {
        TextGenerator(model: model ?? self.model, tokenizer: tokenizer, endOfSequence: endOfSequence, stopStrings: stopStrings,
                      contextLength: checkpoint.config.maxPositionEmbeddings, matrixPrecision: precision)
    }
}
