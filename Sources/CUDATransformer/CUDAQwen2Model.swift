import CUDA
import Foundation
import MedtuneCore
import ModelFiles
import Transformer

/// A Qwen2 decoder on one NVIDIA GPU, for inference: the weights of a loaded CPU `Qwen2Model`
/// uploaded once in the kernels' storage (bfloat16 for speed, float32 for exact checks), float32
/// accumulation everywhere (cuBLASLt products, medtune's NVRTC kernels), the KV cache in GPU
/// memory, and logits copied back as Float.
///
/// Activations are rounded to the storage type where a Hugging Face Qwen2 (with PEFT) of that
/// dtype rounds them: after each product (its bias included), before a residual addition, after
/// the LoRA update's scaling, and the logits themselves, so that a bfloat16 model here gives the
/// numbers of the same model in bfloat16 under transformers, not merely numbers as precise.
///
/// This target sits above both `CUDA` and `Transformer` so that neither knows the other: the
/// CUDA target stays a set of device primitives with CPU twins in MedtuneCore, and the model
/// seam (`DecodingModel`) stays free of any backend.
///
/// LoRA adapters attached to the CPU model when this one is built are uploaded with it; a pass
/// with `useAdapter` adds scale · (x·Aᵀ)·Bᵀ to each adapted projection, and a pass without skips
/// them, so the base answers are those of a model that never had an adapter, bit for bit.
/// Products run in the storage precision whatever `ForwardPass.matrixPrecision` asks, and LoRA
/// dropout (training only) is not applied.
///
/// Decoding steps after a cache's first are recorded once as a CUDA graph and replayed: at one
/// token per sequence, launching ~500 kernels one by one would cost more than running them. Every
/// input a step varies (ids, rotary tables, key mask, cached length) is copied into fixed device
/// buffers before the replay.
///
/// A GPU runs one pass at a time: the model and its caches belong to one thread.
public final class CUDAQwen2Model {
    public let kernels: CUDAKernels
    let blas: CuBLASLt.Session
    public let hiddenSize: Int, layerCount: Int, vocabulary: Int
    let heads: Int, kvHeads: Int, headDim: Int, intermediate: Int
    let norm: RMSNorm
    let rotary: RotaryEmbedding
    /// The token embedding table; nil for a training model that looks its rows up in host memory
    /// (`embeddingOnDevice: false`, an untied head).
    let embedding: DeviceBuffer?
    let finalNorm: DeviceBuffer, lmHead: DeviceBuffer
    /// `rotary.inverseFrequencies`, float32.
    let inverseFrequencies: DeviceBuffer
    private(set) var layers: [Layer]
    /// Largest adapter rank, for the scratch of the adapters' first product.
    private(set) var maxRank: Int
    /// Activations of the last pass, kept while later passes fit in them (decoding steps).
    private var scratch: Scratch?
    /// Per decoding product shape: whether the skinny kernel beat cuBLASLt (`product`).
    private var skinnyIsFaster: [SkinnyShape: Bool] = [:]
    /// Counts reallocations of `scratch`: a recorded step is valid only for the buffers it saw.
    private var scratchGeneration = 0
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

    /// How weights and activations are stored: the kernels' storage.
    public var storage: CUDAKernelSource.Storage { kernels.storage }
    var element: CuBLASLt.Element { storage == .float32 ? .float32 : .bfloat16 }

    /// Uploads `model` (and its attached adapters) to the GPU of `kernels`, in their storage.
    /// Without `embeddingOnDevice` the token embedding stays in host memory unless the head
    /// shares it: a training pass gathers a few thousand rows of it, which is not worth a gigabyte
    /// of GPU memory at 7B shapes.
    public init(_ model: Qwen2Model<Float>, kernels: CUDAKernels, blas: CuBLASLt.Session, embeddingOnDevice: Bool = true) throws {
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
        } + (embeddingOnDevice ? 2 : 1) * vocabulary * hiddenSize
        let device = kernels.device, storage = kernels.storage
        guard storage.bytes * parameters < device.info.totalMemory else {
            throw CUDAError(library: device.driver.path, context: "CUDAQwen2Model",
                            "out of GPU memory: the \(storage.rawValue) weights need " + CUDADevice.gibibytes(storage.bytes * parameters)
                                + ", \(device.info.name) has " + CUDADevice.gibibytes(device.info.totalMemory))
        }

        func upload(_ tensor: Tensor<Float>) throws -> DeviceBuffer { try Self.upload(tensor.buffer, to: device, storage: storage) }
        func linear(_ linear: LoRALinear<Float>) throws -> Linear {
            Linear(weight: try Self.upload(linear.base, to: device, storage: storage), bias: try linear.bias.map(upload),
                   inFeatures: linear.inFeatures, outFeatures: linear.outFeatures,
                   adapter: try Self.uploadAdapter(of: linear, to: device, storage: storage))
        }
        layers = try model.layers.map { layer in
            Layer(inputNorm: try upload(layer.inputNorm), postAttentionNorm: try upload(layer.postAttentionNorm),
                  q: try linear(layer.q), k: try linear(layer.k), v: try linear(layer.v), o: try linear(layer.o),
                  gate: try linear(layer.gate), up: try linear(layer.up), down: try linear(layer.down))
        }
        finalNorm = try upload(model.finalNorm)
        inverseFrequencies = try device.upload(rotary.inverseFrequencies)
        guard let table = model.embedding as? LinearMap else {
            throw InputError("CUDAQwen2Model: cannot read an embedding table of type \(type(of: model.embedding))")
        }
        // Tied embeddings (Qwen2.5-0.5B) share one matrix on the GPU as in the file.
        let tied = (model.embedding as? LinearWeight).map { $0 === model.lmHead as? LinearWeight } ?? false
        embedding = embeddingOnDevice || tied ? try Self.upload(table, to: device, storage: storage) : nil
        lmHead = try tied ? embedding! : Self.upload(model.lmHead, to: device, storage: storage)
    }

    /// A projection's adapter on the GPU, if it has one.
    static func uploadAdapter(of linear: LoRALinear<Float>, to device: CUDADevice, storage: CUDAKernelSource.Storage) throws -> Adapter? {
        try linear.adapter.map {
            Adapter(a: try upload($0.a.buffer, to: device, storage: storage), b: try upload($0.b.buffer, to: device, storage: storage),
                    rank: $0.rank, scale: Float($0.scale))
        }
    }

    /// Replaces the uploaded adapters with those attached to `model` now (another checkpoint of
    /// the same run, say), leaving the frozen weights where they are. `model` is the CPU model
    /// this one was built from, or one of the same shapes.
    public func reloadAdapters(from model: Qwen2Model<Float>) throws {
        precondition(model.layers.count == layers.count && model.hiddenSize == hiddenSize, "adapters of another model")
        let device = kernels.device
        for (index, layer) in model.layers.enumerated() {
            layers[index].q.adapter = try Self.uploadAdapter(of: layer.q, to: device, storage: storage)
            layers[index].k.adapter = try Self.uploadAdapter(of: layer.k, to: device, storage: storage)
            layers[index].v.adapter = try Self.uploadAdapter(of: layer.v, to: device, storage: storage)
            layers[index].o.adapter = try Self.uploadAdapter(of: layer.o, to: device, storage: storage)
            layers[index].gate.adapter = try Self.uploadAdapter(of: layer.gate, to: device, storage: storage)
            layers[index].up.adapter = try Self.uploadAdapter(of: layer.up, to: device, storage: storage)
            layers[index].down.adapter = try Self.uploadAdapter(of: layer.down, to: device, storage: storage)
        }
        maxRank = model.layers.flatMap { layer in layer.projections.compactMap { $0.linear.adapter?.rank } }.max() ?? 0
        // The scratch is sized for the old ranks, and recorded steps captured the old buffers.
        scratch = nil
        scratchGeneration += 1
    }

    /// Float values in `storage` on the GPU.
    static func upload<Values: Collection<Float>>(_ values: Values, to device: CUDADevice, storage: CUDAKernelSource.Storage) throws -> DeviceBuffer {
        storage == .float32 ? try device.upload(Array(values)) : try device.upload(values.map(BFloat16.bits))
    }

    /// A frozen matrix [out × in] in `storage` on the GPU: bf16 weights stored as bf16 are copied
    /// as they are; other storage is decoded to float32 on the CPU (and rounded for bf16).
    static func upload(_ map: LinearMap, to device: CUDADevice, storage: CUDAKernelSource.Storage) throws -> DeviceBuffer {
        if let weight = map as? LinearWeight {
            if weight.type == .bf16 && storage == .bfloat16 {
                let buffer = try device.allocate(bytes: weight.tensor.bytes.count)
                try buffer.copy(from: weight.tensor.bytes)
                return buffer
            }
            return try Self.upload(weight.dequantized(), to: device, storage: storage)
        }
        if let dense = map as? DenseMatrix<Float> {
            return try Self.upload(dense.weight.buffer, to: device, storage: storage)
        }
        throw InputError("CUDAQwen2Model: cannot read the weights of a \(type(of: map))")
    }

    /// Throws the failure of an earlier pass, if any.
    public func checkFailure() throws {
        if let failure { throw failure }
    }

    /// Bytes of GPU memory this model's device holds now, and at most so far (weights, caches,
    /// activations and cuBLASLt's workspace).
    public var memoryInUse: Int { kernels.device.memoryInUse }
    public var peakMemory: Int { kernels.device.peakMemory }

    /// Activations of a pass of up to `rows` rows, and the head's inputs and logits for up to
    /// `headRows` selected rows.
    struct Scratch {
        var rows: Int, headRows: Int
        var ids, positions, x, normed, q, k, v, attention, gate, up, residual, projected, update: DeviceBuffer
        var picks, chosen, headNormed, headOutput, logits, greedy: DeviceBuffer

        init(rows: Int, headRows: Int, model m: CUDAQwen2Model) throws {
            let device = m.kernels.device, bytes = m.storage.bytes
            func activations(_ rows: Int, _ columns: Int) throws -> DeviceBuffer { try device.allocate(bytes: bytes * rows * columns) }
            self.rows = rows; self.headRows = headRows
            ids = try device.allocate(bytes: 4 * rows); positions = try device.allocate(bytes: 4 * rows)
            x = try activations(rows, m.hiddenSize); normed = try activations(rows, m.hiddenSize)
            q = try activations(rows, m.heads * m.headDim)
            k = try activations(rows, m.kvHeads * m.headDim); v = try activations(rows, m.kvHeads * m.headDim)
            attention = try activations(rows, m.heads * m.headDim)
            gate = try activations(rows, m.intermediate); up = try activations(rows, m.intermediate)
            residual = try activations(rows, m.hiddenSize)
            projected = try activations(rows, max(m.maxRank, 1))
            update = try activations(m.maxRank > 0 ? rows : 1, max(m.intermediate, m.hiddenSize, m.heads * m.headDim))
            picks = try device.allocate(bytes: 4 * headRows)
            chosen = try activations(headRows, m.hiddenSize); headNormed = try activations(headRows, m.hiddenSize)
            headOutput = try activations(headRows, m.vocabulary)
            logits = m.storage == .float32 ? headOutput : try device.allocate(bytes: 4 * headRows * m.vocabulary)
            greedy = try device.allocate(bytes: 4 * headRows)
        }
    }

    /// What a pass copies back: the logits of its chosen rows, or only each row's argmax.
    enum Output { case logits, greedy }

    /// Runs `tokens` [pass.batch × pass.length] after the cached positions, appends their keys
    /// and values to the cache, and returns the logits (or their argmax, one id per row) of the
    /// rows `selected` of the pass (every row, in order, when nil).
    func run(_ tokens: [Int32], pass: ForwardPass, cache: CUDAKVCache, selected: [Int]?, output: Output) throws
        -> (logits: Tensor<Float>?, greedy: [Int32]) {
        precondition(tokens.count == pass.rows, "\(tokens.count) tokens for a pass of \(pass.rows)")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < vocabulary }, "token id outside the vocabulary of \(vocabulary)")
        precondition(pass.batch == cache.batch, "a pass of \(pass.batch) sequences on a cache of \(cache.batch)")
        precondition(cache.length + pass.length <= cache.capacity, "KV cache full (\(cache.capacity) positions)")
        let rows = pass.rows, count = selected?.count ?? rows
        if scratch.map({ $0.rows < rows || $0.headRows < count }) ?? true {
            let old = (rows: scratch?.rows ?? 0, headRows: scratch?.headRows ?? 0)
            scratch = nil  // free the old buffers before allocating larger ones
            scratch = try Scratch(rows: max(rows, old.rows), headRows: max(count, old.headRows), model: self)
            scratchGeneration += 1
        }
        let s = scratch!
        let state = try cache.state(layers: layerCount, storage: storage, on: kernels.device)

        // Everything a pass varies goes into fixed buffers first: a recorded step reads them there.
        try tokens.withUnsafeBytes { try s.ids.copy(from: $0) }
        try pass.positions.map(Int32.init).withUnsafeBytes { try s.positions.copy(from: $0) }
        try cache.storeMask(pass.keyMask, state: state)
        try withUnsafeBytes(of: Int32(cache.length)) { try state.past.copy(from: $0) }
        if let selected { try selected.map(Int32.init).withUnsafeBytes { try s.picks.copy(from: $0) } }

        let work = {
            try self.layersAndHead(pass: pass, cache: cache, state: state, scratch: s, selected: selected != nil, count: count)
            if output == .greedy { try self.kernels.argmax(logits: s.logits, into: s.greedy, rows: count, cols: self.vocabulary) }
        }
        if pass.length == 1, selected == nil, cache.length > 0, cache.stepsRun > 0 {
            let key = CUDAKVCache.StepKey(useAdapter: pass.useAdapter, output: output, scratchGeneration: scratchGeneration)
            if cache.recordedSteps[key] == nil { cache.recordedSteps[key] = try kernels.device.record(work) }
            try kernels.device.launch(cache.recordedSteps[key]!)
        } else {
            try work()
        }
        if pass.length == 1 { cache.stepsRun += 1 }
        cache.length += pass.length
        // The copy back waits for the work before it.
        switch output {
        case .logits: return (Tensor([count, vocabulary], try s.logits.download(Float.self, count: count * vocabulary)), [])
        case .greedy: return (nil, try s.greedy.download(Int32.self, count: count))
        }
    }

    /// Every layer over the scratch's rows, then the final norm and the head over the selected
    /// rows (gathered into `chosen`) or over all of them.
    private func layersAndHead(pass: ForwardPass, cache: CUDAKVCache, state: CUDAKVCache.State, scratch s: Scratch,
                               selected: Bool, count: Int) throws {
        let rows = pass.rows
        guard let embedding else { preconditionFailure("inference needs the embedding table on the GPU") }
        try kernels.embedding(ids: s.ids, table: embedding, into: s.x, tokens: rows, dim: hiddenSize, vocabulary: vocabulary)
        let attention = CausalAttention(batch: pass.batch, queryLength: pass.length, keyLength: cache.length + pass.length,
                                        queryHeads: heads, kvHeads: kvHeads, headDim: headDim, keyCapacity: cache.capacity)
        let kvRow = kvHeads * headDim
        for (index, layer) in layers.enumerated() {
            try kernels.rmsNorm(norm, x: s.x, weight: layer.inputNorm, into: s.normed, rows: rows)
            try project(layer.q, s.normed, rows: rows, into: s.q, pass: pass, scratch: s)
            try project(layer.k, s.normed, rows: rows, into: s.k, pass: pass, scratch: s)
            try project(layer.v, s.normed, rows: rows, into: s.v, pass: pass, scratch: s)
            try kernels.rotary(rotary, x: s.q, positions: s.positions, inverseFrequencies: inverseFrequencies, tokens: rows, heads: heads)
            try kernels.rotary(rotary, x: s.k, positions: s.positions, inverseFrequencies: inverseFrequencies, tokens: rows, heads: kvHeads)
            let (keys, values) = state.layers[index]
            try kernels.appendToCache(s.k, cache: keys, batch: pass.batch, count: pass.length, capacity: cache.capacity, start: state.past, row: kvRow)
            try kernels.appendToCache(s.v, cache: values, batch: pass.batch, count: pass.length, capacity: cache.capacity, start: state.past, row: kvRow)
            try kernels.attention(attention, q: s.q, k: keys, v: values, keyMask: state.mask, past: state.past, into: s.attention)
            // The residual additions take the rounded projection, as `residual + o_proj(…)` does.
            try project(layer.o, s.attention, rows: rows, into: s.residual, pass: pass, scratch: s)
            try kernels.add(s.x, s.residual, into: s.x, count: rows * hiddenSize)
            try kernels.rmsNorm(norm, x: s.x, weight: layer.postAttentionNorm, into: s.normed, rows: rows)
            try project(layer.gate, s.normed, rows: rows, into: s.gate, pass: pass, scratch: s)
            try project(layer.up, s.normed, rows: rows, into: s.up, pass: pass, scratch: s)
            try kernels.swiGLU(gate: s.gate, up: s.up, into: s.gate, count: rows * intermediate)
            try project(layer.down, s.gate, rows: rows, into: s.residual, pass: pass, scratch: s)
            try kernels.add(s.x, s.residual, into: s.x, count: rows * hiddenSize)
        }
        // Only the selected rows reach the final norm and the (151,936-wide) head: the gather is
        // the embedding kernel with the residual stream as its table.
        var last = s.x
        if selected {
            try kernels.embedding(ids: s.picks, table: s.x, into: s.chosen, tokens: count, dim: hiddenSize, vocabulary: rows)
            last = s.chosen
        }
        try kernels.rmsNorm(norm, x: last, weight: finalNorm, into: s.headNormed, rows: count)
        // Logits in the storage type, as the model's dtype gives them, then widened for the sampler.
        try product(s.headNormed, lmHead, bias: nil, into: s.headOutput, rows: count, n: vocabulary, k: hiddenSize)
        if storage == .bfloat16 { try kernels.bf16ToFloat32(s.headOutput, into: s.logits, count: count * vocabulary) }
    }

    /// output = input · Wᵀ + bias, plus the adapter's update when the pass uses adapters.
    private func project(_ linear: Linear, _ input: DeviceBuffer, rows: Int, into output: DeviceBuffer, pass: ForwardPass,
                         scratch s: Scratch) throws {
        let adapter = pass.useAdapter ? linear.adapter.map { AdapterProduct(a: $0.a, b: $0.b, rank: $0.rank, scale: $0.scale, input: input) } : nil
        try project(linear, input, rows: rows, into: output, adapter: adapter, projected: s.projected, update: s.update)
    }

    /// An adapter's matrices and the input of its product: the projection's own input, or in
    /// training its dropped-out copy.
    struct AdapterProduct {
        var a: DeviceBuffer, b: DeviceBuffer
        var rank: Int
        var scale: Float
        var input: DeviceBuffer
    }

    /// output = input · Wᵀ + bias, plus scale · (x·Aᵀ)·Bᵀ when an adapter is given, each operation
    /// rounded as PEFT's `result + lora_B(lora_A(x)) * scaling` rounds it. `projected` [rows ×
    /// rank] receives x·Aᵀ (training keeps it); `update` [rows × out] is scratch.
    func project(_ linear: Linear, _ input: DeviceBuffer, rows: Int, into output: DeviceBuffer, adapter: AdapterProduct? = nil,
                 projected: DeviceBuffer? = nil, update: DeviceBuffer? = nil) throws {
        try product(input, linear.weight, bias: linear.bias, into: output, rows: rows, n: linear.outFeatures, k: linear.inFeatures)
        guard let adapter, let projected, let update else { return }
        try blas.multiply(a: adapter.input, b: adapter.a, c: projected, m: rows, n: adapter.rank, k: linear.inFeatures, input: element, output: element)
        try blas.multiply(a: projected, b: adapter.b, c: update, m: rows, n: linear.outFeatures, k: adapter.rank, input: element, output: element)
        try kernels.scaledAdd(output, update: update, scale: adapter.scale, count: rows * linear.outFeatures)
    }

    /// output [rows × n] = input [rows × k] · weightᵀ (+ bias), in the storage type: a frozen
    /// matrix's product, through cuBLASLt, or for a decoding step's few rows through the skinny
    /// kernel where that was faster: the first product of each such shape (outside a recording)
    /// times both and remembers the winner.
    func product(_ input: DeviceBuffer, _ weight: DeviceBuffer, bias: DeviceBuffer?, into output: DeviceBuffer, rows: Int, n: Int, k: Int) throws {
        let cuBLASLt = { try self.blas.multiply(a: input, b: weight, c: output, m: rows, n: n, k: k, input: self.element, output: self.element, bias: bias) }
        guard kernels.takesSkinnyProduct(rows: rows, inFeatures: k, [input, weight, output] + (bias.map { [$0] } ?? [])) else {
            return try cuBLASLt()
        }
        let skinny = { try self.kernels.skinnyProduct(x: input, weight: weight, bias: bias, into: output, rows: rows, n: n, k: k) }
        let shape = SkinnyShape(rows: rows, n: n, k: k, bias: bias != nil)
        if let faster = skinnyIsFaster[shape] { return try faster ? skinny() : cuBLASLt() }
        guard !kernels.device.isRecording else { return try cuBLASLt() }
        let seconds = try [skinny, cuBLASLt].map { try kernels.device.fastest(of: 3, $0) }
        skinnyIsFaster[shape] = seconds[0] < seconds[1]
    }

    struct SkinnyShape: Hashable {
        var rows, n, k: Int
        var bias: Bool
    }

    /// The logits of the rows `rows` of one pass over `tokens` on a fresh cache: every position of
    /// a sequence at once (teacher forcing), as `Qwen2Model.logits` gives them on the CPU.
    public func logits(_ tokens: [Int32], pass: ForwardPass, rows: [Int]) throws -> Tensor<Float> {
        try checkFailure()
        return try run(tokens, pass: pass, cache: makeCache(batch: pass.batch, capacity: pass.length), selected: rows, output: .logits).logits!
    }

    /// The pass's logits, or NaN logits once a pass has failed (see `failure`).
    private func guarded(batch: Int, _ work: () throws -> Tensor<Float>) -> Tensor<Float> {
        if failure == nil {
            do { return try work() } catch { failure = error }
        }
        return Tensor([batch, vocabulary], Array(repeating: .nan, count: batch * vocabulary))
    }

    /// The pass's greedy ids, or token 0 for each sequence once a pass has failed.
    private func guarded(batch: Int, _ work: () throws -> [Int32]) -> [Int32] {
        if failure == nil {
            do { return try work() } catch { failure = error }
        }
        return Array(repeating: 0, count: batch)
    }

    /// The last row of each sequence of a prompt pass.
    private func lastRows(_ pass: ForwardPass) -> [Int] { (0..<pass.batch).map { ($0 + 1) * pass.length - 1 } }
}

/// Keys and values of every layer in GPU memory, per layer [batch × capacity × kvHeads × headDim]
/// in the model's storage, with the key mask and the number of cached positions that the kernels
/// read, and the decoding steps recorded for it. The memory is allocated by the first pass, where
/// an allocation failure can be reported.
public final class CUDAKVCache {
    public let batch: Int, capacity: Int
    let row: Int
    /// Positions filled so far (the same for every sequence: left padding aligns them).
    public internal(set) var length = 0
    /// Decoding steps run on this cache.
    var stepsRun = 0

    struct State {
        var layers: [(keys: DeviceBuffer, values: DeviceBuffer)]
        /// uint8 [batch × capacity]: which positions hold real tokens rather than left padding.
        var mask: DeviceBuffer
        /// int32: positions cached before the current pass.
        var past: DeviceBuffer
    }
    private var allocated: State?
    /// The host copy of the mask, so that a step uploads it only when it changed.
    private var hostMask: [UInt8]

    struct StepKey: Hashable {
        var useAdapter: Bool
        var output: CUDAQwen2Model.Output
        var scratchGeneration: Int
    }
    var recordedSteps: [StepKey: CUDAGraph] = [:]

    init(batch: Int, capacity: Int, row: Int) {
        self.batch = batch; self.capacity = capacity; self.row = row
        hostMask = []
    }

    func state(layers: Int, storage: CUDAKernelSource.Storage, on device: CUDADevice) throws -> State {
        if let allocated { return allocated }
        // One allocation for every layer's keys and values, the length and the mask.
        let bytes = storage.bytes * batch * capacity * row, end = 2 * layers * bytes
        let whole = try device.allocate(bytes: end + 4 + batch * capacity)
        let state = State(layers: (0..<layers).map { (whole.slice(offset: 2 * $0 * bytes, bytes: bytes), whole.slice(offset: (2 * $0 + 1) * bytes, bytes: bytes)) },
                          mask: whole.slice(offset: end + 4, bytes: batch * capacity), past: whole.slice(offset: end, bytes: 4))
        allocated = state
        return state
    }

    /// Lays the pass's key mask ([batch × (length + new)], nil when nothing is padded) out at the
    /// cache's capacity and uploads it when it changed.
    func storeMask(_ keyMask: [UInt8]?, state: State) throws {
        var mask = [UInt8](repeating: 1, count: batch * capacity)
        if let keyMask {
            let keys = keyMask.count / batch
            for b in 0..<batch {
                for s in 0..<keys { mask[b * capacity + s] = keyMask[b * keys + s] }
            }
        }
        guard mask != hostMask else { return }
        try mask.withUnsafeBytes { try state.mask.copy(from: $0) }
        hostMask = mask
    }
}

extension CUDAQwen2Model: DecodingModel {
    public typealias Element = Float

    public func makeCache(batch: Int, capacity: Int) -> CUDAKVCache {
        CUDAKVCache(batch: batch, capacity: capacity, row: kvHeads * headDim)
    }

    public func prefill(_ tokens: [Int32], pass: ForwardPass, cache: CUDAKVCache) -> Tensor<Float> {
        precondition(cache.length == 0, "a prompt pass starts an empty cache")
        return guarded(batch: pass.batch) { try run(tokens, pass: pass, cache: cache, selected: lastRows(pass), output: .logits).logits! }
    }

    public func decode(_ tokens: [Int32], pass: ForwardPass, cache: CUDAKVCache) -> Tensor<Float> {
        precondition(pass.length == 1, "a decoding step takes one token per sequence")
        return guarded(batch: pass.batch) { try run(tokens, pass: pass, cache: cache, selected: nil, output: .logits).logits! }
    }

    public func prefillGreedy(_ tokens: [Int32], pass: ForwardPass, cache: CUDAKVCache) -> [Int32] {
        precondition(cache.length == 0, "a prompt pass starts an empty cache")
        return guarded(batch: pass.batch) { try run(tokens, pass: pass, cache: cache, selected: lastRows(pass), output: .greedy).greedy }
    }

    public func decodeGreedy(_ tokens: [Int32], pass: ForwardPass, cache: CUDAKVCache) -> [Int32] {
        precondition(pass.length == 1, "a decoding step takes one token per sequence")
        return guarded(batch: pass.batch) { try run(tokens, pass: pass, cache: cache, selected: nil, output: .greedy).greedy }
    }
}
