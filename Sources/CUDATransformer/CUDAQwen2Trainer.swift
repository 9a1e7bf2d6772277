import CUDA
import Foundation
import MedtuneCore
import Transformer

/// The training role of a Qwen2 decoder on one NVIDIA GPU (`TrainableModel`): the forward and
/// backward pass of every layer over a micro-batch run on the device, over the frozen weights
/// that a `CUDAQwen2Model` uploaded, in the same order of operations as `DecoderLayer.forward`
/// and `backward` on the CPU.
///
/// The adapters stay the seam's shared CPU objects, attached to the CPU model this one was made
/// from: each pass uploads their A and B (in the kernels' storage) and adds the float32
/// gradients it computed to their gradA and gradB. The optimiser, the schedule, clipping and
/// the checkpoint files are the CPU path's, so a run writes the same files on either device and
/// resumes on either.
///
/// What a pass keeps for backward: every layer's activations, or with `gradientCheckpointing`
/// only each layer's input, the layer being replayed before its backward (with the same dropout
/// masks, which are a function of the pass's seed). Attention keeps its log-sum-exp per query,
/// never the probabilities (`CUDAKernels.attentionBackward`). The head runs over the labelled
/// rows only, a chunk at a time, so at most `headChunkBytes` of float32 logits exist at once.
///
/// A GPU runs one pass at a time: the model belongs to one thread.
public final class CUDAQwen2Trainer {
    /// The frozen weights on the GPU. Its own adapters (those attached when it was uploaded) are
    /// not used here.
    public let network: CUDAQwen2Model
    /// The CPU model the network was uploaded from; it holds the adapters being trained.
    public let host: Qwen2Model<Float>
    public var gradientCheckpointing = false
    /// When set, each pass adds the time of its parts to it (and runs slower for the measuring).
    public var profile: PassProfile?
    private var adapters: DeviceAdapters?
    private var scratch: Scratch?
    /// Host rows of the embedding looked up for a pass, kept between passes.
    private var embeddedRows: [Float] = []

    /// Float32 logits of the head per chunk of labelled rows.
    static let headChunkBytes = 128 << 20

    public init(_ model: Qwen2Model<Float>, kernels: CUDAKernels, blas: CuBLASLt.Session) throws {
        network = try CUDAQwen2Model(model, kernels: kernels, blas: blas, embeddingOnDevice: false)
        host = model
    }

    var kernels: CUDAKernels { network.kernels }
    var blas: CuBLASLt.Session { network.blas }
    var device: CUDADevice { network.kernels.device }
    var element: CuBLASLt.Element { network.element }
    var storageBytes: Int { network.storage.bytes }

    public var memoryInUse: Int { device.memoryInUse }
    public var peakMemory: Int { device.peakMemory }

    /// Runs `body` as part `name` of the pass's profile, when there is one.
    private func part<T>(_ name: String, _ body: () throws -> T) throws -> T {
        guard let profile else { return try body() }
        return try profile.measure(name, on: device, body)
    }

    // MARK: Adapters

    /// One attached adapter on the GPU: A and B in storage, their gradients in float32.
    struct DeviceAdapter {
        let site: AdapterSite
        let host: LoRAAdapter<Float>
        let a: DeviceBuffer, b: DeviceBuffer
        let gradA: DeviceBuffer, gradB: DeviceBuffer
        var rank: Int { host.rank }
        var scale: Float { Float(host.scale) }
    }

    /// Every attached adapter's matrices in one allocation and their gradients in another
    /// (downloaded in one copy); with bfloat16 storage, `staging` takes the float32 values that
    /// the GPU rounds into `weights`.
    final class DeviceAdapters {
        let list: [DeviceAdapter]
        let bySite: [AdapterSite: Int]
        let weights: DeviceBuffer, grads: DeviceBuffer, staging: DeviceBuffer?
        let weightCount: Int

        init(_ attached: [(site: AdapterSite, adapter: LoRAAdapter<Float>)], device: CUDADevice, storageBytes: Int) throws {
            weightCount = attached.reduce(0) { $0 + $1.adapter.a.count + $1.adapter.b.count }
            weights = try device.allocate(bytes: storageBytes * weightCount)
            grads = try device.allocate(bytes: 4 * weightCount)
            staging = storageBytes == 4 ? nil : try device.allocate(bytes: 4 * weightCount)
            var offset = 0, list: [DeviceAdapter] = []
            for (site, adapter) in attached {
                let (aCount, bCount) = (adapter.a.count, adapter.b.count)
                list.append(DeviceAdapter(site: site, host: adapter,
                                          a: weights.slice(offset: storageBytes * offset, bytes: storageBytes * aCount),
                                          b: weights.slice(offset: storageBytes * (offset + aCount), bytes: storageBytes * bCount),
                                          gradA: grads.slice(offset: 4 * offset, bytes: 4 * aCount),
                                          gradB: grads.slice(offset: 4 * (offset + aCount), bytes: 4 * bCount)))
                offset += aCount + bCount
            }
            self.list = list
            bySite = Dictionary(uniqueKeysWithValues: list.enumerated().map { ($1.site, $0) })
        }

        func matches(_ attached: [(site: AdapterSite, adapter: LoRAAdapter<Float>)]) -> Bool {
            attached.count == list.count && zip(attached, list).allSatisfy { $0.site == $1.site && $0.adapter === $1.host }
        }

        subscript(site: AdapterSite) -> DeviceAdapter? { bySite[site].map { list[$0] } }
    }

    /// The host's adapters on the GPU with their current values.
    private func uploadAdapters() throws -> DeviceAdapters {
        let attached = host.attachedAdapters
        if adapters.map({ !$0.matches(attached) }) ?? true {
            adapters = nil
            scratch = nil  // sized for the old adapters
            adapters = try DeviceAdapters(attached, device: device, storageBytes: storageBytes)
        }
        let uploaded = adapters!
        // Each tensor's float32 values go up as they are; bfloat16 storage rounds them on the GPU.
        let target = uploaded.staging ?? uploaded.weights
        var offset = 0
        for adapter in uploaded.list {
            for tensor in [adapter.host.a, adapter.host.b] {
                try target.slice(offset: 4 * offset, bytes: 4 * tensor.count)
                    .copy(from: UnsafeRawBufferPointer(start: tensor.pointer, count: 4 * tensor.count))
                offset += tensor.count
            }
        }
        if let staging = uploaded.staging { try kernels.float32ToBF16(staging, into: uploaded.weights, count: uploaded.weightCount) }
        return uploaded
    }

    /// Adds the gradients of the last backward pass to the host adapters' gradA and gradB, the
    /// tensors in parallel.
    private func addGradients(_ uploaded: DeviceAdapters) throws {
        let grads = try uploaded.grads.download(Float.self, count: uploaded.weightCount)
        let targets = uploaded.list.flatMap { [$0.host.gradA, $0.host.gradB] }
        let offsets = targets.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        grads.withUnsafeBufferPointer { source in
            Parallel.forEach(targets.count) { index in
                let g = targets[index].pointer, from = source.baseAddress! + offsets[index]
                for i in 0..<targets[index].count { g[i] += from[i] }
            }
        }
    }

    // MARK: Activations

    /// What one layer's forward keeps for its backward. The inputs of the adapted projections
    /// (the norms' outputs, the MLP's hidden activation, their dropped-out copies) are not kept:
    /// backward recomputes them, bit for bit, from what is kept, where an adapter needs them.
    struct LayerBuffers {
        var input, q, k, v, attention, middle, gate, up: DeviceBuffer
        /// float32 [rows]: the norms' reciprocal RMS; float32 [rows × heads]: attention's log-sum-exp.
        var rstd1, rstd2, logSumExp: DeviceBuffer
        /// Per adapted projection: input·Aᵀ [rows × rank].
        var projected: [Projection: DeviceBuffer]
    }

    /// Every buffer of a pass of up to `rows` rows.
    struct Scratch {
        let rows: Int
        let checkpointing: Bool
        let ids, positions, labels, picks, past: DeviceBuffer
        /// uint8 [rows]: the key mask, when the pass has one.
        let mask: DeviceBuffer
        let x, residual, update: DeviceBuffer
        /// A layer's norm output and MLP activation, and an adapter's dropped-out input: written
        /// by the forward for the products that read them, and again by backward where needed.
        let norm, hidden, dropped: DeviceBuffer
        /// float32 [rows × hidden]: the embedding rows looked up on the host, when the table is there.
        let embedded: DeviceBuffer?
        /// One set per layer, or one set for all with checkpointing (then `inputs` keeps each
        /// layer's input).
        let layers: [LayerBuffers]
        let inputs: [DeviceBuffer]
        let dx, dNorm, dAttention, dq, dk, dv, dHidden, attentionScratch, dProjected, dDropped: DeviceBuffer
        let normed, rstd, headInput, dHeadInput, logits, dLogits, losses: DeviceBuffer
        let headChunk: Int
    }

    private func makeScratch(rows: Int, checkpointing: Bool, adapters: DeviceAdapters) throws -> Scratch {
        let m = network, bytes = storageBytes
        let qWidth = m.heads * m.headDim, kvWidth = m.kvHeads * m.headDim
        func activations(_ columns: Int) throws -> DeviceBuffer { try device.allocate(bytes: bytes * rows * columns) }
        func floats(_ count: Int) throws -> DeviceBuffer { try device.allocate(bytes: 4 * count) }
        // A layer's buffers serve any layer: per projection, the largest rank any layer's adapter has.
        let adapted = Dictionary(grouping: adapters.list, by: \.site.projection)
        func layer() throws -> LayerBuffers {
            LayerBuffers(input: try activations(m.hiddenSize), q: try activations(qWidth), k: try activations(kvWidth),
                         v: try activations(kvWidth), attention: try activations(qWidth), middle: try activations(m.hiddenSize),
                         gate: try activations(m.intermediate), up: try activations(m.intermediate),
                         rstd1: try floats(rows), rstd2: try floats(rows), logSumExp: try floats(rows * m.heads),
                         projected: try adapted.mapValues { try activations($0.map(\.rank).max()!) })
        }
        let maxRank = max(adapters.list.map(\.rank).max() ?? 1, 1)
        let widest = max(m.hiddenSize, m.intermediate, qWidth)
        let headChunk = max(1, min(rows, Self.headChunkBytes / (4 * m.vocabulary)))
        let logits = try floats(headChunk * m.vocabulary)
        let past = try floats(1)
        try device.zero(past, bytes: 4)
        return Scratch(rows: rows, checkpointing: checkpointing, ids: try floats(rows), positions: try floats(rows), labels: try floats(rows), picks: try floats(rows),
                       past: past, mask: try device.allocate(bytes: rows), x: try activations(m.hiddenSize),
                       residual: try activations(m.hiddenSize), update: try activations(widest),
                       norm: try activations(m.hiddenSize), hidden: try activations(m.intermediate),
                       dropped: try activations(adapters.list.contains { $0.host.dropout > 0 } ? widest : 1),
                       embedded: m.embedding == nil ? try floats(rows * m.hiddenSize) : nil,
                       layers: try (0..<(checkpointing ? 1 : m.layerCount)).map { _ in try layer() },
                       inputs: try (0..<(checkpointing ? m.layerCount : 0)).map { _ in try activations(m.hiddenSize) },
                       dx: try activations(m.hiddenSize), dNorm: try activations(m.hiddenSize), dAttention: try activations(qWidth),
                       dq: try activations(qWidth), dk: try activations(kvWidth), dv: try activations(kvWidth),
                       dHidden: try activations(m.intermediate),
                       attentionScratch: try device.allocate(bytes: kernels.attentionBackwardScratchBytes(attentionShape(rows: rows))),
                       dProjected: try activations(maxRank), dDropped: try activations(widest),
                       normed: try activations(m.hiddenSize), rstd: try floats(rows), headInput: try activations(m.hiddenSize),
                       dHeadInput: try activations(m.hiddenSize), logits: logits,
                       dLogits: network.storage == .float32 ? logits : try device.allocate(bytes: bytes * headChunk * m.vocabulary),
                       losses: try floats(rows), headChunk: headChunk)
    }

    // MARK: The pass

    /// One pass over `tokens` [pass.batch × pass.length]: the summed loss of the labelled rows and
    /// their count; with `gradScale`, the backward pass too, its gradients added to the adapters.
    func run(tokens: [Int32], labels: [Int32], pass: ForwardPass, gradScale: Float?) throws -> (loss: Double, count: Int) {
        do {
            return try compute(tokens: tokens, labels: labels, pass: pass, gradScale: gradScale)
        } catch let error as CUDAError where error.reason.hasPrefix("out of GPU memory") {
            throw CUDAError(library: error.library, context: error.context,
                            error.reason + "; a smaller micro_batch_size or max_length, or gradient_checkpointing: true, needs less")
        }
    }

    private func compute(tokens: [Int32], labels: [Int32], pass: ForwardPass, gradScale: Float?) throws -> (loss: Double, count: Int) {
        let rows = pass.rows, m = network
        precondition(tokens.count == rows && labels.count == rows, "\(tokens.count) tokens and \(labels.count) labels for \(rows) rows")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < m.vocabulary }, "token id outside the vocabulary of \(m.vocabulary)")
        precondition(labels.allSatisfy { $0 == CrossEntropy.ignoreIndex || ($0 >= 0 && Int($0) < m.vocabulary) },
                     "label outside the vocabulary of \(m.vocabulary)")
        try network.checkFailure()
        let counted = labels.indices.filter { labels[$0] != CrossEntropy.ignoreIndex }
        let uploaded = try part("adapter upload") { try uploadAdapters() }
        let backward = gradScale != nil, checkpointing = gradientCheckpointing
        // Buffers are laid out for training; a pass without backward (validation) keeps nothing
        // per layer, so the first layer's set serves every layer.
        if scratch.map({ $0.rows < rows || $0.checkpointing != checkpointing }) ?? true {
            scratch = nil  // free the old buffers before allocating others
            scratch = try makeScratch(rows: rows, checkpointing: checkpointing, adapters: uploaded)
        }
        let s = scratch!
        try tokens.withUnsafeBytes { try s.ids.copy(from: $0) }
        try pass.positions.map(Int32.init).withUnsafeBytes { try s.positions.copy(from: $0) }
        // The head scores the labelled rows only: their indices, and their labels in that order.
        try counted.map { labels[$0] }.withUnsafeBytes { try s.labels.copy(from: $0) }
        try counted.map(Int32.init).withUnsafeBytes { try s.picks.copy(from: $0) }
        if let keyMask = pass.keyMask {
            precondition(keyMask.count == rows, "a training pass's key mask covers its own \(rows) positions")
            try keyMask.withUnsafeBytes { try s.mask.copy(from: $0) }
        }

        try part("embedding") { try embed(tokens, scratch: s) }
        for index in 0..<m.layerCount {
            if backward && checkpointing {
                try part("copies") { try device.copy(s.x, to: s.inputs[index], bytes: storageBytes * rows * m.hiddenSize) }
            }
            let set = backward && !checkpointing ? s.layers[index] : s.layers[0]
            try forward(layer: index, saving: set, pass: pass, scratch: s, adapters: uploaded)
        }
        try part("norms") { try kernels.rmsNorm(m.norm, x: s.x, weight: m.finalNorm, into: s.normed, rows: rows, rstd: s.rstd) }
        let loss = try part("head") { try head(count: counted.count, scratch: s, gradScale: gradScale) }
        guard backward else { return (loss, counted.count) }

        // dx: the gradient of the final norm's input, then of each layer's input in turn.
        try part("norms backward") {
            try device.zero(s.dx, bytes: storageBytes * rows * m.hiddenSize)
            try kernels.rmsNormBackward(m.norm, dy: s.dNorm, x: s.x, weight: m.finalNorm, rstd: s.rstd, dx: s.dx, rows: rows)
        }
        for index in (0..<m.layerCount).reversed() {
            let saved: LayerBuffers
            if checkpointing {
                try part("copies") { try device.copy(s.inputs[index], to: s.x, bytes: storageBytes * rows * m.hiddenSize) }
                try forward(layer: index, saving: s.layers[0], pass: pass, scratch: s, adapters: uploaded)
                saved = s.layers[0]
            } else {
                saved = s.layers[index]
            }
            try backwardLayer(index, saved: saved, pass: pass, scratch: s, adapters: uploaded)
        }
        try part("gradient download") { try addGradients(uploaded) }
        return (loss, counted.count)
    }

    /// The pass's embedding rows into `scratch.x`: gathered on the GPU, or, when the table stayed
    /// in host memory, looked up there and rounded to the storage type on the GPU (as the upload
    /// of the table would have rounded them).
    private func embed(_ tokens: [Int32], scratch s: Scratch) throws {
        let m = network, count = tokens.count * m.hiddenSize
        if let table = m.embedding {
            return try kernels.embedding(ids: s.ids, table: table, into: s.x, tokens: tokens.count, dim: m.hiddenSize, vocabulary: m.vocabulary)
        }
        if embeddedRows.count < count { embeddedRows = [Float](repeating: 0, count: count) }
        try embeddedRows.withUnsafeMutableBufferPointer { rows in
            host.embedding.lookup(tokens, into: rows.baseAddress!)
            try (network.storage == .float32 ? s.x : s.embedded!).copy(from: UnsafeRawBufferPointer(start: rows.baseAddress, count: 4 * count))
        }
        if network.storage == .bfloat16 { try kernels.float32ToBF16(s.embedded!, into: s.x, count: count) }
    }

    /// The final norm's output rows that have labels go through the head a chunk at a time: the
    /// summed loss, and with `gradScale` the gradient of every normed row in `dNorm` (zero for
    /// rows without a label).
    private func head(count: Int, scratch s: Scratch, gradScale: Float?) throws -> Double {
        let m = network
        guard count > 0 else {
            if gradScale != nil { try device.zero(s.dNorm, bytes: storageBytes * s.rows * m.hiddenSize) }
            return 0
        }
        try kernels.embedding(ids: s.picks, table: s.normed, into: s.headInput, tokens: count, dim: m.hiddenSize, vocabulary: s.rows)
        for start in stride(from: 0, to: count, by: s.headChunk) {
            let rows = min(s.headChunk, count - start)
            let input = s.headInput.slice(offset: storageBytes * start * m.hiddenSize, bytes: storageBytes * rows * m.hiddenSize)
            try blas.multiply(a: input, b: m.lmHead, c: s.logits, m: rows, n: m.vocabulary, k: m.hiddenSize, input: element, output: .float32)
            try kernels.crossEntropy(logits: s.logits, labels: s.labels.slice(offset: 4 * start, bytes: 4 * rows),
                                     losses: s.losses.slice(offset: 4 * start, bytes: 4 * rows), grad: s.dLogits,
                                     rows: rows, vocabulary: m.vocabulary, gradScale: gradScale ?? 0)
            guard gradScale != nil else { continue }
            let dInput = s.dHeadInput.slice(offset: storageBytes * start * m.hiddenSize, bytes: storageBytes * rows * m.hiddenSize)
            try blas.multiply(a: s.dLogits, b: m.lmHead, c: dInput, m: rows, n: m.hiddenSize, k: m.vocabulary, input: element,
                              output: element, transposeB: false)
        }
        if gradScale != nil {
            try device.zero(s.dNorm, bytes: storageBytes * s.rows * m.hiddenSize)
            try kernels.scatterRows(s.dHeadInput, ids: s.picks, into: s.dNorm, count: count, dim: m.hiddenSize)
        }
        return try s.losses.download(Float.self, count: count).reduce(0.0) { $0 + Double($1) }
    }

    // MARK: One layer

    /// The layer's forward on the residual stream `scratch.x`, in place, keeping in `saved` what
    /// its backward needs (`DecoderLayer.forward`).
    private func forward(layer index: Int, saving saved: LayerBuffers, pass: ForwardPass, scratch s: Scratch,
                         adapters: DeviceAdapters) throws {
        let m = network, layer = m.layers[index], rows = pass.rows
        try part("copies") { try device.copy(s.x, to: saved.input, bytes: storageBytes * rows * m.hiddenSize) }
        try part("norms") { try kernels.rmsNorm(m.norm, x: s.x, weight: layer.inputNorm, into: s.norm, rows: rows, rstd: saved.rstd1) }
        try project(layer.q, .q, layer: index, s.norm, into: saved.q, pass: pass, saved: saved, scratch: s, adapters: adapters)
        try project(layer.k, .k, layer: index, s.norm, into: saved.k, pass: pass, saved: saved, scratch: s, adapters: adapters)
        try project(layer.v, .v, layer: index, s.norm, into: saved.v, pass: pass, saved: saved, scratch: s, adapters: adapters)
        try part("rotary") {
            try kernels.rotary(m.rotary, x: saved.q, positions: s.positions, inverseFrequencies: m.inverseFrequencies, tokens: rows, heads: m.heads)
            try kernels.rotary(m.rotary, x: saved.k, positions: s.positions, inverseFrequencies: m.inverseFrequencies, tokens: rows, heads: m.kvHeads)
        }
        try part("attention") {
            try kernels.attention(attentionShape(pass), q: saved.q, k: saved.k, v: saved.v, keyMask: pass.keyMask == nil ? nil : s.mask,
                                  past: s.past, into: saved.attention, logSumExp: saved.logSumExp)
        }
        try project(layer.o, .o, layer: index, saved.attention, into: s.residual, pass: pass, saved: saved, scratch: s, adapters: adapters)
        try part("elementwise") { try kernels.add(s.x, s.residual, into: s.x, count: rows * m.hiddenSize) }
        try part("copies") { try device.copy(s.x, to: saved.middle, bytes: storageBytes * rows * m.hiddenSize) }
        try part("norms") { try kernels.rmsNorm(m.norm, x: s.x, weight: layer.postAttentionNorm, into: s.norm, rows: rows, rstd: saved.rstd2) }
        try project(layer.gate, .gate, layer: index, s.norm, into: saved.gate, pass: pass, saved: saved, scratch: s, adapters: adapters)
        try project(layer.up, .up, layer: index, s.norm, into: saved.up, pass: pass, saved: saved, scratch: s, adapters: adapters)
        try part("elementwise") { try kernels.swiGLU(gate: saved.gate, up: saved.up, into: s.hidden, count: rows * m.intermediate) }
        try project(layer.down, .down, layer: index, s.hidden, into: s.residual, pass: pass, saved: saved, scratch: s, adapters: adapters)
        try part("elementwise") { try kernels.add(s.x, s.residual, into: s.x, count: rows * m.hiddenSize) }
    }

    /// Given ∂loss/∂(layer output) in `scratch.dx`, replaces it with ∂loss/∂(layer input) and
    /// writes the layer's adapter gradients (`DecoderLayer.backward`). Consumes `saved.gate` and
    /// `saved.up`, which become their gradients.
    private func backwardLayer(_ index: Int, saved a: LayerBuffers, pass: ForwardPass, scratch s: Scratch, adapters: DeviceAdapters) throws {
        let m = network, layer = m.layers[index], rows = pass.rows
        func back(_ linear: CUDAQwen2Model.Linear, _ projection: Projection, dy: DeviceBuffer, input: DeviceBuffer, dx: DeviceBuffer,
                  accumulate: Bool) throws {
            let site = AdapterSite(layer: index, projection)
            let adapter = pass.useAdapter ? adapters[site] : nil
            try part(adapter == nil ? "projections backward" : "projections backward with LoRA") {
                try linearBackward(linear, adapter: adapter, dropoutSeed: pass.dropoutSeed(site), saved: a,
                                   dy: dy, input: input, rows: rows, dx: dx, accumulate: accumulate, scratch: s)
            }
        }
        // Whether the pass's adapters read the inputs of these projections, which then are recomputed.
        func adapted(_ projections: [Projection]) -> Bool {
            pass.useAdapter && projections.contains { adapters[AdapterSite(layer: index, $0)] != nil }
        }
        // MLP branch: out = middle + down(swiglu(gate(n2), up(n2))).
        if adapted([.down]) {
            try part("recomputation") { try kernels.swiGLU(gate: a.gate, up: a.up, into: s.hidden, count: rows * m.intermediate) }
        }
        try back(layer.down, .down, dy: s.dx, input: s.hidden, dx: s.dHidden, accumulate: false)
        try part("elementwise backward") { try kernels.swiGLUBackward(s.dHidden, gate: a.gate, up: a.up, count: rows * m.intermediate) }
        if adapted([.gate, .up]) {
            try part("recomputation") { try kernels.rmsNorm(m.norm, x: a.middle, weight: layer.postAttentionNorm, into: s.norm, rows: rows) }
        }
        try back(layer.gate, .gate, dy: a.gate, input: s.norm, dx: s.dNorm, accumulate: false)
        try back(layer.up, .up, dy: a.up, input: s.norm, dx: s.dNorm, accumulate: true)
        try part("norms backward") {
            try kernels.rmsNormBackward(m.norm, dy: s.dNorm, x: a.middle, weight: layer.postAttentionNorm, rstd: a.rstd2, dx: s.dx, rows: rows)
        }
        // Attention branch: middle = input + o(attention(rope(q(n1)), rope(k(n1)), v(n1))).
        try back(layer.o, .o, dy: s.dx, input: a.attention, dx: s.dAttention, accumulate: false)
        try part("attention backward") {
            try kernels.attentionBackward(attentionShape(pass), q: a.q, k: a.k, v: a.v, out: a.attention, dOut: s.dAttention,
                                          logSumExp: a.logSumExp, scratch: s.attentionScratch, keyMask: pass.keyMask == nil ? nil : s.mask,
                                          dq: s.dq, dk: s.dk, dv: s.dv)
        }
        try part("rotary") {
            try kernels.rotary(m.rotary, x: s.dq, positions: s.positions, inverseFrequencies: m.inverseFrequencies, tokens: rows, heads: m.heads,
                               inverse: true)
            try kernels.rotary(m.rotary, x: s.dk, positions: s.positions, inverseFrequencies: m.inverseFrequencies, tokens: rows, heads: m.kvHeads,
                               inverse: true)
        }
        if adapted([.q, .k, .v]) {
            try part("recomputation") { try kernels.rmsNorm(m.norm, x: a.input, weight: layer.inputNorm, into: s.norm, rows: rows) }
        }
        try back(layer.q, .q, dy: s.dq, input: s.norm, dx: s.dNorm, accumulate: false)
        try back(layer.k, .k, dy: s.dk, input: s.norm, dx: s.dNorm, accumulate: true)
        try back(layer.v, .v, dy: s.dv, input: s.norm, dx: s.dNorm, accumulate: true)
        try part("norms backward") {
            try kernels.rmsNormBackward(m.norm, dy: s.dNorm, x: a.input, weight: layer.inputNorm, rstd: a.rstd1, dx: s.dx, rows: rows)
        }
    }

    private func attentionShape(_ pass: ForwardPass) -> CausalAttention {
        CausalAttention(batch: pass.batch, queryLength: pass.length, keyLength: pass.length, queryHeads: network.heads,
                        kvHeads: network.kvHeads, headDim: network.headDim)
    }

    /// A pass's attention shape as far as buffer sizes go: they depend on its rows only.
    private func attentionShape(rows: Int) -> CausalAttention {
        CausalAttention(batch: 1, queryLength: rows, keyLength: rows, queryHeads: network.heads, kvHeads: network.kvHeads, headDim: network.headDim)
    }

    /// output = projection(input), with the adapter's update when the pass uses adapters; keeps
    /// input·Aᵀ in `saved` (`LoRALinear.forward`).
    private func project(_ linear: CUDAQwen2Model.Linear, _ projection: Projection, layer: Int, _ input: DeviceBuffer,
                         into output: DeviceBuffer, pass: ForwardPass, saved: LayerBuffers, scratch s: Scratch,
                         adapters: DeviceAdapters) throws {
        let site = AdapterSite(layer: layer, projection), rows = pass.rows
        guard pass.useAdapter, let adapter = adapters[site], let projected = saved.projected[projection] else {
            return try part("projections") { try network.project(linear, input, rows: rows, into: output) }
        }
        try part("projections with LoRA") {
            var source = input
            if let seed = pass.dropoutSeed(site), adapter.host.dropout > 0 {
                try kernels.dropout(input, into: s.dropped, count: rows * linear.inFeatures, probability: adapter.host.dropout, seed: seed,
                                    accumulate: false)
                source = s.dropped
            }
            try network.project(linear, input, rows: rows, into: output,
                                adapter: .init(a: adapter.a, b: adapter.b, rank: adapter.rank, scale: adapter.scale, input: source),
                                projected: projected, update: s.update)
        }
    }

    /// dx = dy·W (+= with `accumulate`), and the adapter's part: gradB = scale · dyᵀ·(x·Aᵀ),
    /// gradA = (scale · dy·B)ᵀ·dropout(x), dx += dropoutᵀ((scale · dy·B)·A) (`LoRALinear.backward`).
    private func linearBackward(_ linear: CUDAQwen2Model.Linear, adapter: DeviceAdapter?, dropoutSeed: UInt64?, saved: LayerBuffers, dy: DeviceBuffer,
                                input: DeviceBuffer, rows: Int, dx: DeviceBuffer, accumulate: Bool, scratch s: Scratch) throws {
        let (inFeatures, outFeatures) = (linear.inFeatures, linear.outFeatures)
        try blas.multiply(a: dy, b: linear.weight, c: dx, m: rows, n: inFeatures, k: outFeatures, input: element, output: element,
                          accumulate: accumulate, transposeB: false)
        guard let adapter, let projected = saved.projected[adapter.site.projection] else { return }
        let rank = adapter.rank, scale = adapter.scale
        // The forward dropped out the input when the pass had a seed (training) and the adapter a
        // rate: the same mask again (a function of the seed), for gradA.
        let dropped = adapter.host.dropout > 0 ? dropoutSeed.map { ($0, s.dropped) } : nil
        if let (seed, buffer) = dropped {
            try kernels.dropout(input, into: buffer, count: rows * inFeatures, probability: adapter.host.dropout, seed: seed, accumulate: false)
        }
        try blas.multiply(a: dy, b: projected, c: adapter.gradB, m: outFeatures, n: rank, k: rows, input: element, output: .float32,
                          alpha: scale, transposeA: true, transposeB: false)
        try blas.multiply(a: dy, b: adapter.b, c: s.dProjected, m: rows, n: rank, k: outFeatures, input: element, output: element,
                          alpha: scale, transposeB: false)
        try blas.multiply(a: s.dProjected, b: dropped?.1 ?? input, c: adapter.gradA, m: rank, n: inFeatures, k: rows, input: element,
                          output: .float32, transposeA: true, transposeB: false)
        if let (seed, _) = dropped {
            try blas.multiply(a: s.dProjected, b: adapter.a, c: s.dDropped, m: rows, n: inFeatures, k: rank, input: element, output: element,
                              transposeB: false)
            try kernels.dropout(s.dDropped, into: dx, count: rows * inFeatures, probability: adapter.host.dropout, seed: seed, accumulate: true)
        } else {
            try blas.multiply(a: s.dProjected, b: adapter.a, c: dx, m: rows, n: inFeatures, k: rank, input: element, output: element,
                              accumulate: true, transposeB: false)
        }
    }
}

extension CUDAQwen2Trainer: LoRAModel, TrainableModel {
    public typealias Element = Float

    public var layerCount: Int { host.layerCount }
    public var vocabulary: Int { network.vocabulary }
    public func features(_ site: AdapterSite) -> (inFeatures: Int, outFeatures: Int) { host.features(site) }
    public var attachedAdapters: [(site: AdapterSite, adapter: LoRAAdapter<Float>)] { host.attachedAdapters }
    public func attach(_ adapters: [(site: AdapterSite, adapter: LoRAAdapter<Float>)]) { host.attach(adapters) }

    public func lossAndGradients(tokens: [Int32], labels: [Int32], pass: ForwardPass, gradScale: Float) throws -> (loss: Double, count: Int) {
        try run(tokens: tokens, labels: labels, pass: pass, gradScale: gradScale)
    }

    public func loss(tokens: [Int32], labels: [Int32], pass: ForwardPass) throws -> (loss: Double, count: Int) {
        try run(tokens: tokens, labels: labels, pass: pass, gradScale: nil)
    }
}
