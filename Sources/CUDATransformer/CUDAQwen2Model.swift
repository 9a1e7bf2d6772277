import CUDA
import Foundation
import MedtuneCore
import ModelFiles
import Transformer

/// A Qwen2 decoder on one NVIDIA GPU, for inference: the weights of a loaded CPU `Qwen2Model`
/// uploaded once as bfloat16, activations in bfloat16 with float32 accumulation (cuBLASLt
/// products, medtune's NVRTC kernels), the KV cache in GPU memory, and logits copied back as Float.
///
/// This target sits above both `CUDA` and `Transformer` so that neither knows the other: the
/// CUDA target stays a set of device primitives with CPU twins in MedtuneCore, and the model
/// seam (`DecodingModel`) stays free of any backend.
///
/// LoRA adapters attached to the CPU model when this one is built are uploaded with it; a pass
/// with `useAdapter` adds scale · (x·Aᵀ)·Bᵀ to each adapted projection, and a pass without skips
/// them, so the base answers are those of a model that never had an adapter, bit for bit.
/// Every product is bfloat16 whatever `ForwardPass.matrixPrecision` asks, and LoRA dropout
/// (training only) is not applied.
///
/// A GPU runs one pass at a time: the model and its caches belong to one thread.
public final class CUDAQwen2Model {
    public let kernels: CUDAKernels
    let blas: CuBLASLt.Session
    public let hiddenSize: Int, layerCount: Int, vocabulary: Int
    let heads: Int, kvHeads: Int, headDim: Int, intermediate: Int
    let norm: RMSNorm
    let rotary: RotaryEmbedding
    let embedding: DeviceBuffer, finalNorm: DeviceBuffer, lmHead: DeviceBuffer
    let layers: [Layer]
    /// Largest adapter rank, for the scratch of the adapters' first product.
    let maxRank: Int
    /// Activations of the last pass, kept while later passes fit in them (decoding steps).
    private var scratch: Scratch?
    /// The first GPU failure of a pass. `DecodingModel` passes cannot throw, so a failed pass
    /// returns NaN logits, later passes do nothing, and the caller asks `checkFailure()`.
    public private(set) var failure: Error?

    struct Linear {
        var weight: DeviceBuffer
        var bias: DeviceBuffer?
        var inFeatures: Int, outFeatures: Int
        var adapter: Adapter?
    }

    struct Adapter {
        var a: DeviceBuffer, b: DeviceBuffer
        var rank: Int
        var scale: Float
    }

    struct Layer {
        var inputNorm: DeviceBuffer, postAttentionNorm: DeviceBuffer
        var q: Linear, k: Linear, v: Linear, o: Linear, gate: Linear, up: Linear, down: Linear
    }

    /// Uploads `model` (and its attached adapters) to the GPU of `kernels`.
    public init(_ model: Qwen2Model<Float>, kernels: CUDAKernels, blas: CuBLASLt.Session) throws {
        guard let first = model.layers.first else { throw InputError("CUDAQwen2Model: the model has no layers") }
        self.kernels = kernels
        self.blas = blas
        hiddenSize = model.hiddenSize; layerCount = model.layers.count; vocabulary = model.vocabulary
        heads = first.heads; kvHeads = first.kvHeads; headDim = first.headDim; intermediate = first.gate.outFeatures
        norm = RMSNorm(dim: hiddenSize, eps: model.rmsEps)
        rotary = first.rotary
        maxRank = model.layers.flatMap { layer in layer.projections.compactMap { $0.linear.adapter?.rank } }.max() ?? 0

        // Refuse before uploading anything when the weights alone cannot fit.
        let parameters = model.layers.reduce(0) { sum, layer in
            sum + layer.projections.reduce(0) { $0 + $1.linear.inFeatures * $1.linear.outFeatures }
        } + 2 * vocabulary * hiddenSize
        let device = kernels.device
        guard 2 * parameters < device.info.totalMemory else {
            throw CUDAError(library: device.driver.path, context: "CUDAQwen2Model",
                            "out of GPU memory: the bf16 weights need " + Self.gibibytes(2 * parameters) + ", \(device.info.name) has "
                                + Self.gibibytes(device.info.totalMemory))
        }

        func upload(_ tensor: Tensor<Float>) throws -> DeviceBuffer {
            try device.upload(tensor.buffer.map(BFloat16.bits))
        }
        func linear(_ linear: LoRALinear<Float>) throws -> Linear {
            Linear(weight: try Self.upload(linear.base, to: device), bias: try linear.bias.map(upload),
                   inFeatures: linear.inFeatures, outFeatures: linear.outFeatures,
                   adapter: try linear.adapter.map { Adapter(a: try upload($0.a), b: try upload($0.b), rank: $0.rank, scale: Float($0.scale)) })
        }
        layers = try model.layers.map { layer in
            Layer(inputNorm: try upload(layer.inputNorm), postAttentionNorm: try upload(layer.postAttentionNorm),
                  q: try linear(layer.q), k: try linear(layer.k), v: try linear(layer.v), o: try linear(layer.o),
                  gate: try linear(layer.gate), up: try linear(layer.up), down: try linear(layer.down))
        }
        finalNorm = try upload(model.finalNorm)
        guard let table = model.embedding as? LinearMap else {
            throw InputError("CUDAQwen2Model: cannot read an embedding table of type \(type(of: model.embedding))")
        }
        embedding = try Self.upload(table, to: device)
        // Tied embeddings (Qwen2.5-0.5B) share one matrix on the GPU as in the file.
        let tied = (model.embedding as? LinearWeight).map { $0 === model.lmHead as? LinearWeight } ?? false
        lmHead = tied ? embedding : try Self.upload(model.lmHead, to: device)
    }

    private static func gibibytes(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / Double(1 << 30)) }

    /// A frozen matrix [out × in] as bfloat16 on the GPU: bf16 storage is copied as it is, other
    /// storage is decoded to float32 on the CPU and rounded.
    static func upload(_ map: LinearMap, to device: CUDADevice) throws -> DeviceBuffer {
        if let weight = map as? LinearWeight {
            if weight.type == .bf16 {
                let buffer = try device.allocate(bytes: weight.tensor.bytes.count)
                try buffer.copy(from: weight.tensor.bytes)
                return buffer
            }
            return try device.upload(weight.dequantized().map(BFloat16.bits))
        }
        if let dense = map as? DenseMatrix<Float> {
            return try device.upload(dense.weight.buffer.map(BFloat16.bits))
        }
        throw InputError("CUDAQwen2Model: cannot read the weights of a \(type(of: map))")
    }

    /// Throws the failure of an earlier pass, if any.
    public func checkFailure() throws {
        if let failure { throw failure }
    }

    /// Activations of a pass of up to `rows` rows.
    struct Scratch {
        var rows: Int
        var ids, x, normed, q, k, v, attention, gate, up, projected: DeviceBuffer

        init(rows: Int, model m: CUDAQwen2Model) throws {
            let device = m.kernels.device
            func bf16(_ columns: Int) throws -> DeviceBuffer { try device.allocate(bytes: 2 * rows * columns) }
            self.rows = rows
            ids = try device.allocate(bytes: 4 * rows)
            x = try bf16(m.hiddenSize); normed = try bf16(m.hiddenSize)
            q = try bf16(m.heads * m.headDim); k = try bf16(m.kvHeads * m.headDim); v = try bf16(m.kvHeads * m.headDim)
            attention = try bf16(m.heads * m.headDim)
            gate = try bf16(m.intermediate); up = try bf16(m.intermediate)
            projected = try bf16(max(m.maxRank, 1))
        }
    }

    /// Runs `tokens` [pass.batch × pass.length] after the cached positions, appends their keys
    /// and values to the cache, and returns the logits of the rows `selected` of the pass.
    func run(_ tokens: [Int32], pass: ForwardPass, cache: CUDAKVCache, selected: [Int]) throws -> Tensor<Float> {
        precondition(tokens.count == pass.rows, "\(tokens.count) tokens for a pass of \(pass.rows)")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < vocabulary }, "token id outside the vocabulary of \(vocabulary)")
        precondition(pass.batch == cache.batch, "a pass of \(pass.batch) sequences on a cache of \(cache.batch)")
        let rows = pass.rows, past = cache.length
        if scratch.map({ $0.rows < rows }) ?? true { scratch = try Scratch(rows: rows, model: self) }
        let s = scratch!
        let storage = try cache.storage(layers: layerCount, on: kernels.device)
        let device = kernels.device
        try tokens.withUnsafeBytes { try s.ids.copy(from: $0) }
        try kernels.embedding(ids: s.ids, table: embedding, into: s.x, tokens: rows, dim: hiddenSize, vocabulary: vocabulary)
        let table: (cos: [Float], sin: [Float]) = rotary.table(positions: pass.positions)
        let cos = try device.upload(table.cos), sin = try device.upload(table.sin)
        let mask = try pass.keyMask.map { try device.upload($0) }
        let attention = CausalAttention(batch: pass.batch, queryLength: pass.length, keyLength: past + pass.length,
                                        queryHeads: heads, kvHeads: kvHeads, headDim: headDim, keyCapacity: cache.capacity)
        let kvRow = kvHeads * headDim
        for (index, layer) in layers.enumerated() {
            try kernels.rmsNorm(norm, x: s.x, weight: layer.inputNorm, into: s.normed, rows: rows)
            try project(layer.q, s.normed, rows: rows, into: s.q, pass: pass, scratch: s)
            try project(layer.k, s.normed, rows: rows, into: s.k, pass: pass, scratch: s)
            try project(layer.v, s.normed, rows: rows, into: s.v, pass: pass, scratch: s)
            try kernels.rotary(rotary, x: s.q, cos: cos, sin: sin, tokens: rows, heads: heads)
            try kernels.rotary(rotary, x: s.k, cos: cos, sin: sin, tokens: rows, heads: kvHeads)
            let (keys, values) = storage[index]
            try kernels.appendToCache(s.k, cache: keys, batch: pass.batch, count: pass.length, capacity: cache.capacity, start: past, row: kvRow)
            try kernels.appendToCache(s.v, cache: values, batch: pass.batch, count: pass.length, capacity: cache.capacity, start: past, row: kvRow)
            try kernels.attention(attention, q: s.q, k: keys, v: values, keyMask: mask, into: s.attention)
            // The residual additions are the products' own accumulation into x.
            try project(layer.o, s.attention, rows: rows, into: s.x, accumulate: true, pass: pass, scratch: s)
            try kernels.rmsNorm(norm, x: s.x, weight: layer.postAttentionNorm, into: s.normed, rows: rows)
            try project(layer.gate, s.normed, rows: rows, into: s.gate, pass: pass, scratch: s)
            try project(layer.up, s.normed, rows: rows, into: s.up, pass: pass, scratch: s)
            try kernels.swiGLU(gate: s.gate, up: s.up, into: s.gate, count: rows * intermediate)
            try project(layer.down, s.gate, rows: rows, into: s.x, accumulate: true, pass: pass, scratch: s)
        }
        cache.length += pass.length

        // Only the selected rows reach the final norm and the (151,936-wide) head: the gather is
        // the embedding kernel with the residual stream as its table.
        let count = selected.count
        let picks = try device.upload(selected.map(Int32.init))
        let chosen = try device.allocate(bytes: 2 * count * hiddenSize), normed = try device.allocate(bytes: 2 * count * hiddenSize)
        try kernels.embedding(ids: picks, table: s.x, into: chosen, tokens: count, dim: hiddenSize, vocabulary: rows)
        try kernels.rmsNorm(norm, x: chosen, weight: finalNorm, into: normed, rows: count)
        let logits = try device.allocate(bytes: 4 * count * vocabulary)
        try blas.multiply(a: normed, b: lmHead, c: logits, m: count, n: vocabulary, k: hiddenSize, output: .float32)
        // The copy back waits for the work before it on the default stream.
        return Tensor([count, vocabulary], try logits.download(Float.self, count: count * vocabulary))
    }

    /// output = input · Wᵀ (+ bias), added to output when `accumulate`, plus the adapter's update
    /// when the pass uses adapters.
    private func project(_ linear: Linear, _ input: DeviceBuffer, rows: Int, into output: DeviceBuffer, accumulate: Bool = false,
                         pass: ForwardPass, scratch s: Scratch) throws {
        try blas.multiply(a: input, b: linear.weight, c: output, m: rows, n: linear.outFeatures, k: linear.inFeatures,
                          output: .bfloat16, accumulate: accumulate)
        if let bias = linear.bias { try kernels.addBias(output, bias: bias, rows: rows, cols: linear.outFeatures) }
        guard pass.useAdapter, let adapter = linear.adapter else { return }
        try blas.multiply(a: input, b: adapter.a, c: s.projected, m: rows, n: adapter.rank, k: linear.inFeatures, output: .bfloat16)
        try blas.multiply(a: s.projected, b: adapter.b, c: output, m: rows, n: linear.outFeatures, k: adapter.rank,
                          output: .bfloat16, alpha: adapter.scale, accumulate: true)
    }

    /// The pass's logits, or NaN logits once a pass has failed (see `failure`).
    private func guarded(batch: Int, _ work: () throws -> Tensor<Float>) -> Tensor<Float> {
        if failure == nil {
            do { return try work() } catch { failure = error }
        }
        return Tensor([batch, vocabulary], Array(repeating: .nan, count: batch * vocabulary))
    }
}

/// Keys and values of every layer in GPU memory, per layer [batch × capacity × kvHeads × headDim]
/// bfloat16. The memory is allocated by the first pass, where an allocation failure can be reported.
public final class CUDAKVCache {
    public let batch: Int, capacity: Int
    let row: Int
    private var buffers: [(keys: DeviceBuffer, values: DeviceBuffer)] = []
    /// Positions filled so far (the same for every sequence: left padding aligns them).
    public internal(set) var length = 0

    init(batch: Int, capacity: Int, row: Int) {
        self.batch = batch; self.capacity = capacity; self.row = row
    }

    func storage(layers: Int, on device: CUDADevice) throws -> [(keys: DeviceBuffer, values: DeviceBuffer)] {
        if buffers.isEmpty {
            let bytes = 2 * batch * capacity * row
            buffers = try (0..<layers).map { _ in (try device.allocate(bytes: bytes), try device.allocate(bytes: bytes)) }
        }
        return buffers
    }
}

extension CUDAQwen2Model: DecodingModel {
    public typealias Element = Float

    public func makeCache(batch: Int, capacity: Int) -> CUDAKVCache {
        CUDAKVCache(batch: batch, capacity: capacity, row: kvHeads * headDim)
    }

    public func prefill(_ tokens: [Int32], pass: ForwardPass, cache: CUDAKVCache) -> Tensor<Float> {
        precondition(cache.length == 0, "a prompt pass starts an empty cache")
        return guarded(batch: pass.batch) {
            try run(tokens, pass: pass, cache: cache, selected: (0..<pass.batch).map { ($0 + 1) * pass.length - 1 })
        }
    }

    public func decode(_ tokens: [Int32], pass: ForwardPass, cache: CUDAKVCache) -> Tensor<Float> {
        precondition(pass.length == 1, "a decoding step takes one token per sequence")
        return guarded(batch: pass.batch) { try run(tokens, pass: pass, cache: cache, selected: Array(0..<pass.batch)) }
    }
}
