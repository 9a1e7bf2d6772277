import Foundation
import MedtuneCore

/// medtune's kernels, compiled for one GPU (through the on-disk cache) and loaded into its
/// context, with typed launchers. Buffers hold `storage` elements (bfloat16 as `UInt16` bits, or
/// float32) unless a parameter says otherwise; shapes follow MedtuneCore's CPU operations, so each
/// kernel has a CPU twin to check.
public final class CUDAKernels {
    public let device: CUDADevice
    public let storage: CUDAKernelSource.Storage
    private var functions: [String: CUDAFunction] = [:]

    /// Threads per block of the row-wise kernels (norms, reductions) and the elementwise ones.
    static let rowThreads = 256, elementThreads = 256

    public init(device: CUDADevice, nvrtc: NVRTC, cache: KernelCache, storage: CUDAKernelSource.Storage = .bfloat16) throws {
        self.device = device
        self.storage = storage
        let architecture = device.info.architecture
        for source in CUDAKernelSource.all {
            let ptx = try cache.ptx(for: source, storage: source.perStorage ? storage : .bfloat16, nvrtc: nvrtc,
                                    driverVersion: device.driver.version, architecture: architecture)
            let module: CUDAModule
            do {
                module = try device.loadModule(image: ptx)
            } catch let error as CUDAError where error.reason.hasPrefix("CUDA_ERROR_UNSUPPORTED_PTX_VERSION") {
                // PTX from an NVRTC newer than the driver: say which pair disagrees.
                throw CUDAError(library: error.library, context: "\(error.context)(\(source.name))",
                                "\(error.reason) — NVRTC \(nvrtc.versionString) (\(nvrtc.path)) is newer than the driver's CUDA \(device.driver.versionString); set MEDTUNE_NVRTC to the NVRTC of CUDA \(device.driver.versionString) or older")
            }
            for name in source.functions { functions[name] = try module.function(name) }
        }
    }

    private func function(_ name: String) -> CUDAFunction {
        guard let function = functions[name] else { preconditionFailure("kernel \(name) is not in CUDAKernelSource.all") }
        return function
    }

    private func elementwise(_ name: String, count: Int, _ arguments: [KernelArgument]) throws {
        guard count > 0 else { return }
        try device.launch(function(name), grid: ((count + Self.elementThreads - 1) / Self.elementThreads, 1, 1),
                          block: (Self.elementThreads, 1, 1), arguments + [.int64(Int64(count))])
    }

    public func bf16ToFloat32(_ input: DeviceBuffer, into output: DeviceBuffer, count: Int) throws {
        try elementwise("bf16_to_f32", count: count, [.buffer(input), .buffer(output)])
    }

    public func float32ToBF16(_ input: DeviceBuffer, into output: DeviceBuffer, count: Int) throws {
        try elementwise("f32_to_bf16", count: count, [.buffer(input), .buffer(output)])
    }

    /// out = a + b (out may be a).
    public func add(_ a: DeviceBuffer, _ b: DeviceBuffer, into out: DeviceBuffer, count: Int) throws {
        try elementwise("residual_add", count: count, [.buffer(a), .buffer(b), .buffer(out)])
    }

    /// out = silu(gate) · up, as `SwiGLU.forward`.
    public func swiGLU(gate: DeviceBuffer, up: DeviceBuffer, into out: DeviceBuffer, count: Int) throws {
        try elementwise("swiglu", count: count, [.buffer(gate), .buffer(up), .buffer(out)])
    }

    /// out += update · scale, rounded after the scaling and the sum (a LoRA update as PEFT adds it).
    public func scaledAdd(_ out: DeviceBuffer, update: DeviceBuffer, scale: Float, count: Int) throws {
        try elementwise("scaled_add", count: count, [.buffer(out), .buffer(update), .float32(scale)])
    }

    /// Appends `count` positions per sequence, fresh [batch × count × row], to a KV cache buffer
    /// [batch × capacity × row] after its first `start` positions, an int32 in device memory that
    /// the caller keeps within capacity − count.
    public func appendToCache(_ fresh: DeviceBuffer, cache: DeviceBuffer, batch: Int, count: Int, capacity: Int, start: DeviceBuffer,
                              row: Int) throws {
        try elementwise("kv_cache_append", count: batch * count * row,
                        [.buffer(fresh), .buffer(cache), .int(count), .int(capacity), .buffer(start), .int(row)])
    }

    /// out[t] = table[ids[t]] for int32 ids of `tokens` tokens, rows of `dim`.
    public func embedding(ids: DeviceBuffer, table: DeviceBuffer, into out: DeviceBuffer, tokens: Int, dim: Int, vocabulary: Int) throws {
        guard tokens > 0 else { return }
        try device.launch(function("embedding_gather"), grid: (tokens, 1, 1), block: (Self.rowThreads, 1, 1),
                          [.buffer(ids), .buffer(table), .buffer(out), .int(dim), .int(vocabulary)])
    }

    /// out[ids[t]] = rows[t] for int32 ids of `count` distinct rows of `dim`: `embedding`'s inverse.
    public func scatterRows(_ rows: DeviceBuffer, ids: DeviceBuffer, into out: DeviceBuffer, count: Int, dim: Int) throws {
        guard count > 0 else { return }
        try device.launch(function("rows_scatter"), grid: (count, 1, 1), block: (Self.rowThreads, 1, 1),
                          [.buffer(ids), .buffer(rows), .buffer(out), .int(dim)])
    }

    /// As `RMSNorm.forward`; `rstd` (float32 [rows]) receives the reciprocal RMS of each row when
    /// given (training keeps it, inference does not).
    public func rmsNorm(_ norm: RMSNorm, x: DeviceBuffer, weight: DeviceBuffer, into y: DeviceBuffer, rows: Int,
                        rstd: DeviceBuffer? = nil) throws {
        guard rows > 0 else { return }
        try device.launch(function("rmsnorm"), grid: (rows, 1, 1), block: (Self.rowThreads, 1, 1),
                          [.buffer(x), .buffer(weight), .buffer(y), rstd.map { .buffer($0) } ?? .null, .int(norm.dim), .float32(Float(norm.eps))])
    }

    /// As `RotaryEmbedding.forward`, in place on x[tokens × heads × headDim]: positions are int32
    /// [tokens], inverseFrequencies `rope.inverseFrequencies` as float32. `inverse` rotates back,
    /// as `RotaryEmbedding.backward` does to a gradient.
    public func rotary(_ rope: RotaryEmbedding, x: DeviceBuffer, positions: DeviceBuffer, inverseFrequencies: DeviceBuffer,
                       tokens: Int, heads: Int, inverse: Bool = false) throws {
        let pairs = tokens * heads * rope.headDim / 2
        guard pairs > 0 else { return }
        try device.launch(function("rotary"), grid: ((pairs + Self.elementThreads - 1) / Self.elementThreads, 1, 1),
                          block: (Self.elementThreads, 1, 1),
                          [.buffer(x), .buffer(positions), .buffer(inverseFrequencies), .int(tokens), .int(heads), .int(rope.headDim),
                           .float32(inverse ? -1 : 1)])
    }

    /// As `CausalAttention.forward` (same layouts and shape), without saved probabilities; the
    /// keys before the pass's own number `past` (int32 in device memory: shape.keyLength −
    /// shape.queryLength), and keyMask is uint8 [batch × keyCapacity] or nil. `logSumExp`
    /// (float32 [batch × queryLength × queryHeads]) receives what `attentionBackward` needs.
    public func attention(_ shape: CausalAttention, q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, keyMask: DeviceBuffer?,
                          past: DeviceBuffer, into out: DeviceBuffer, logSumExp: DeviceBuffer? = nil) throws {
        guard shape.headDim % 32 == 0, shape.headDim <= CUDAKernelSource.attentionMaxHeadDim else {
            throw InputError("CUDA attention needs a head dimension that is a multiple of 32 up to \(CUDAKernelSource.attentionMaxHeadDim), not \(shape.headDim)")
        }
        guard shape.batch > 0, shape.queryLength > 0 else { return }
        let arguments: [KernelArgument] = [.buffer(q), .buffer(k), .buffer(v), keyMask.map { .buffer($0) } ?? .null, .buffer(out),
                                           logSumExp.map { .buffer($0) } ?? .null, .buffer(past),
                                           .int(shape.queryLength), .int(shape.keyCapacity), .int(shape.queryHeads), .int(shape.kvHeads)]
        let scale = KernelArgument.float32(1 / Float(shape.headDim).squareRoot())
        // Prompt passes run on the tensor cores where they can; a decoding step's single query
        // spreads its keys over the warps of one block instead.
        if shape.queryLength > 1 && usesTensorCores(shape, [q, k, v, out]) {
            let rows = CUDAKernelSource.tensorCoreRowsPerBlock
            // The head dimension is the kernel's own.
            try device.launch(function("attention_forward_mma_\(shape.headDim)"),
                              grid: ((shape.queryLength + rows - 1) / rows, shape.queryHeads, shape.batch),
                              block: (CUDAKernelSource.tensorCoreThreads, 1, 1), arguments + [scale])
            return
        }
        let tiled = shape.queryLength > 1 && shape.headDim <= CUDAKernelSource.tiledAttentionMaxHeadDim
        let perBlock = tiled ? CUDAKernelSource.tiledAttentionQueries : 1
        try device.launch(function(tiled ? "causal_attention_tiled" : "causal_attention"),
                          grid: ((shape.queryLength + perBlock - 1) / perBlock, shape.queryHeads, shape.batch),
                          block: (CUDAKernelSource.attentionThreads, 1, 1), arguments + [.int(shape.headDim), scale])
    }

    /// Whether the tensor-core attention kernels are built for `shape` in this storage:
    /// bfloat16 and a head dimension they are instantiated for.
    func tensorCoresFit(_ shape: CausalAttention) -> Bool {
        storage == .bfloat16 && CUDAKernelSource.tensorCoreHeadDims.contains(shape.headDim)
    }

    /// Whether attention of `shape` over these buffers runs on the tensor-core kernels: they
    /// fit the shape, and the buffers' rows can be read 16 bytes at a time.
    func usesTensorCores(_ shape: CausalAttention, _ buffers: [DeviceBuffer]) -> Bool {
        tensorCoresFit(shape) && buffers.allSatisfy { $0.address % 16 == 0 }
    }

    /// Whether `skinnyProduct` takes a product of `rows` rows with K = `inFeatures` over these
    /// buffers: bfloat16 storage, at most `CUDAKernelSource.skinnyMaxRows` rows, K a multiple of
    /// 8 and 16-byte aligned rows.
    public func takesSkinnyProduct(rows: Int, inFeatures: Int, _ buffers: [DeviceBuffer]) -> Bool {
        storage == .bfloat16 && rows > 0 && rows <= CUDAKernelSource.skinnyMaxRows && inFeatures % 8 == 0
            && buffers.allSatisfy { $0.address % 16 == 0 }
    }

    /// y[rows × n] = x[rows × k] · weight[n × k]ᵀ (+ bias [n]), bfloat16, for the few rows of a
    /// decoding step (`takesSkinnyProduct`).
    public func skinnyProduct(x: DeviceBuffer, weight: DeviceBuffer, bias: DeviceBuffer?, into y: DeviceBuffer, rows: Int, n: Int, k: Int) throws {
        precondition(takesSkinnyProduct(rows: rows, inFeatures: k, [x, weight, y]), "a skinny product of \(rows) rows, k \(k)")
        let built = [1, 2, 4, 8].first { $0 >= rows }!
        let columns = CUDAKernelSource.skinnyColumns
        try device.launch(function("skinny_product_\(built)"), grid: ((n + columns - 1) / columns, 1, 1),
                          block: (CUDAKernelSource.skinnyWarps * 32, 1, 1),
                          [.buffer(x), .buffer(weight), bias.map { .buffer($0) } ?? .null, .buffer(y), .int(rows), .int(n), .int(k)])
    }

    // MARK: Training

    /// dx += the gradient of `rmsNorm` given dy, with the `rstd` its forward kept.
    public func rmsNormBackward(_ norm: RMSNorm, dy: DeviceBuffer, x: DeviceBuffer, weight: DeviceBuffer, rstd: DeviceBuffer,
                                dx: DeviceBuffer, rows: Int) throws {
        guard rows > 0 else { return }
        try device.launch(function("rmsnorm_backward"), grid: (rows, 1, 1), block: (Self.rowThreads, 1, 1),
                          [.buffer(dy), .buffer(x), .buffer(weight), .buffer(rstd), .buffer(dx), .int(norm.dim)])
    }

    /// Given d = ∂loss/∂swiGLU(gate, up), replaces gate and up by their gradients.
    public func swiGLUBackward(_ d: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, count: Int) throws {
        try elementwise("swiglu_backward", count: count, [.buffer(d), .buffer(gate), .buffer(up)])
    }

    /// Bytes of float32 scratch that `attentionBackward` needs for `shape`: delta per query
    /// vector, and on the tensor cores the keys' and values' partial gradients per query head.
    public func attentionBackwardScratchBytes(_ shape: CausalAttention) -> Int {
        let vectors = shape.batch * shape.queryLength * shape.queryHeads
        let partials = tensorCoresFit(shape) ? 2 * vectors * shape.headDim : 0
        return 4 * (vectors + partials)
    }

    /// The gradients of a training pass's attention (shape.queryLength == keyLength ==
    /// keyCapacity), from its inputs, output `out` and log-sum-exp, given dOut; `scratch` holds
    /// `attentionBackwardScratchBytes(shape)`.
    public func attentionBackward(_ shape: CausalAttention, q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, out: DeviceBuffer,
                                  dOut: DeviceBuffer, logSumExp: DeviceBuffer, scratch: DeviceBuffer, keyMask: DeviceBuffer?,
                                  dq: DeviceBuffer, dk: DeviceBuffer, dv: DeviceBuffer) throws {
        precondition(shape.queryLength == shape.keyLength && shape.keyCapacity == shape.keyLength, "a training pass attends to itself")
        guard shape.headDim % 32 == 0, shape.headDim <= CUDAKernelSource.attentionBackwardMaxHeadDim else {
            throw InputError("CUDA training attention needs a head dimension that is a multiple of 32 up to \(CUDAKernelSource.attentionBackwardMaxHeadDim), not \(shape.headDim)")
        }
        let length = shape.queryLength, vectors = shape.batch * length * shape.queryHeads
        guard vectors > 0 else { return }
        precondition(scratch.bytes >= attentionBackwardScratchBytes(shape), "attention backward scratch of \(scratch.bytes) bytes")
        let delta = scratch.slice(offset: 0, bytes: 4 * vectors)
        let warps = CUDAKernelSource.attentionBackwardWarps
        try device.launch(function("attention_backward_delta"), grid: ((vectors + warps - 1) / warps, 1, 1), block: (warps * 32, 1, 1),
                          [.buffer(out), .buffer(dOut), .buffer(delta), .int(shape.headDim), .int64(Int64(vectors))])
        let common: [KernelArgument] = [.buffer(q), .buffer(k), .buffer(v), .buffer(dOut), .buffer(logSumExp), .buffer(delta),
                                        keyMask.map { .buffer($0) } ?? .null]
        let scale = KernelArgument.float32(1 / Float(shape.headDim).squareRoot())
        let heads: [KernelArgument] = [.int(length), .int(shape.queryHeads), .int(shape.kvHeads)]
        if usesTensorCores(shape, [q, k, v, dOut, dq]) {
            let rows = CUDAKernelSource.tensorCoreRowsPerBlock, threads = CUDAKernelSource.tensorCoreThreads
            let blocks = (length + rows - 1) / rows, partialBytes = 4 * vectors * shape.headDim
            let dkPartial = scratch.slice(offset: 4 * vectors, bytes: partialBytes)
            let dvPartial = scratch.slice(offset: 4 * vectors + partialBytes, bytes: partialBytes)
            try device.launch(function("attention_dq_mma_\(shape.headDim)"), grid: (blocks, shape.queryHeads, shape.batch),
                              block: (threads, 1, 1), common + [.buffer(dq)] + heads + [scale])
            try device.launch(function("attention_dkdv_mma_\(shape.headDim)"), grid: (blocks, shape.queryHeads, shape.batch),
                              block: (threads, 1, 1), common + [.buffer(dkPartial), .buffer(dvPartial)] + heads + [scale])
            try elementwise("attention_kv_grad_sum", count: shape.batch * length * shape.kvHeads * shape.headDim,
                            [.buffer(dkPartial), .buffer(dvPartial), .buffer(dk), .buffer(dv), .int(shape.queryHeads), .int(shape.kvHeads),
                             .int(shape.headDim)])
            return
        }
        let sizes = heads + [.int(shape.headDim), scale]
        let blocks = (length + warps - 1) / warps
        try device.launch(function("attention_backward_dq"), grid: (blocks, shape.queryHeads, shape.batch), block: (warps * 32, 1, 1),
                          common + [.buffer(dq)] + sizes)
        try device.launch(function("attention_backward_dkdv"), grid: (blocks, shape.kvHeads, shape.batch), block: (warps * 32, 1, 1),
                          common + [.buffer(dk), .buffer(dv)] + sizes)
    }

    /// losses[r] (float32) = the cross-entropy of float32 logits row r against labels[r] (int32;
    /// CrossEntropy.ignoreIndex counts nothing), and grad (storage type, may be the logits in
    /// float32 storage) = gradScale · ∂loss/∂logits.
    public func crossEntropy(logits: DeviceBuffer, labels: DeviceBuffer, losses: DeviceBuffer, grad: DeviceBuffer,
                             rows: Int, vocabulary: Int, gradScale: Float) throws {
        guard rows > 0 else { return }
        try device.launch(function("cross_entropy_rows"), grid: (rows, 1, 1), block: (Self.rowThreads, 1, 1),
                          [.buffer(logits), .buffer(labels), .buffer(losses), .buffer(grad), .int(vocabulary), .float32(gradScale)])
    }

    /// y = dropout(x) (y += with `accumulate`) with MedtuneCore's `Dropout` mask of (probability,
    /// seed): the same elements are kept on the GPU as on the CPU.
    public func dropout(_ x: DeviceBuffer, into y: DeviceBuffer, count: Int, probability: Double, seed: UInt64, accumulate: Bool) throws {
        precondition(probability >= 0 && probability < 1, "dropout probability must be in [0, 1)")
        // u = bits · 2⁻⁵³ is exact, so u ≥ p exactly when bits ≥ ⌈p · 2⁵³⌉ (p · 2⁵³ is exact too).
        let threshold = UInt64((probability * 9_007_199_254_740_992).rounded(.up))
        try elementwise("lora_dropout", count: count,
                        [.buffer(x), .buffer(y), .int64(Int64(bitPattern: seed)), .int64(Int64(bitPattern: threshold)),
                         .float32(Float(1 / (1 - probability))), .int(accumulate ? 1 : 0)])
    }

    /// out[r] (int32) = argmax of float32 logits row r.
    public func argmax(logits: DeviceBuffer, into out: DeviceBuffer, rows: Int, cols: Int) throws {
        guard rows > 0 else { return }
        try device.launch(function("argmax_rows"), grid: (rows, 1, 1), block: (Self.rowThreads, 1, 1),
                          [.buffer(logits), .buffer(out), .int(cols)])
    }

    /// Float32 rows become softmax(row / temperature), in place.
    public func softmax(_ x: DeviceBuffer, rows: Int, cols: Int, temperature: Float) throws {
        guard rows > 0 else { return }
        try device.launch(function("softmax_rows"), grid: (rows, 1, 1), block: (Self.rowThreads, 1, 1),
                          [.buffer(x), .int(cols), .float32(1 / temperature)])
    }
}
