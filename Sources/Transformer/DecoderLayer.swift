import MedtuneCore

/// What a forward pass over a batch needs to know besides the weights.
public struct ForwardPass: Sendable {
    /// Sequences in the batch.
    public var batch: Int
    /// New tokens per sequence in this pass (all of them for training, 1 when decoding).
    public var length: Int
    /// Rotary position of each new token, [batch × length].
    public var positions: [Int]
    /// Which keys are real (non-zero) rather than left padding, [batch × (cached + length)];
    /// nil when no sequence is padded.
    public var keyMask: [UInt8]?
    /// Whether LoRA adapters take part; off gives the untouched base model.
    public var useAdapter: Bool
    /// Seed of LoRA dropout; nil disables dropout (inference).
    public var dropoutSeed: UInt64?
    /// Precision of the products with frozen weights (the projections and the LM head); LoRA's
    /// own products and attention are always float32.
    public var matrixPrecision: MatrixPrecision

    public init(batch: Int, length: Int, positions: [Int]? = nil, keyMask: [UInt8]? = nil,
                useAdapter: Bool = true, dropoutSeed: UInt64? = nil, matrixPrecision: MatrixPrecision = .float32) {
        self.batch = batch; self.length = length
        self.positions = positions ?? (0..<batch).flatMap { _ in Array(0..<length) }
        self.keyMask = keyMask; self.useAdapter = useAdapter; self.dropoutSeed = dropoutSeed
        self.matrixPrecision = matrixPrecision
        precondition(self.positions.count == batch * length, "\(self.positions.count) positions for \(batch)×\(length) tokens")
    }

    public var rows: Int { batch * length }

    /// A seed for one projection of one layer, so every dropout mask is distinct and reproducible.
    func dropoutSeed(layer: Int, projection: Int) -> UInt64? {
        dropoutSeed.map { $0 &+ UInt64(layer * 16 + projection) &* 0x9E37_79B9_7F4A_7C15 }
    }
}

/// The activations one layer keeps for its backward pass.
public struct LayerActivations<T: Scalar> {
    var input: Tensor<T>
    var norm1: Tensor<T>, rstd1: Tensor<T>
    var q: Tensor<T>, k: Tensor<T>, v: Tensor<T>
    var probs: Tensor<T>
    var attention: Tensor<T>
    var middle: Tensor<T>
    var norm2: Tensor<T>, rstd2: Tensor<T>
    var gate: Tensor<T>, up: Tensor<T>, hidden: Tensor<T>
    var lora: [LoRASaved<T>?]
}

/// One Qwen2 decoder layer: pre-norm grouped-query attention and a pre-norm SwiGLU MLP, each
/// added to the residual stream.
public final class DecoderLayer<T: Scalar>: @unchecked Sendable {
    public let index: Int
    public let inputNorm: Tensor<T>
    public let postAttentionNorm: Tensor<T>
    public let q: LoRALinear<T>, k: LoRALinear<T>, v: LoRALinear<T>, o: LoRALinear<T>
    public let gate: LoRALinear<T>, up: LoRALinear<T>, down: LoRALinear<T>
    public let heads: Int, kvHeads: Int, headDim: Int
    public let norm: RMSNorm
    public let rotary: RotaryEmbedding

    public init(index: Int, inputNorm: Tensor<T>, postAttentionNorm: Tensor<T>,
                q: LoRALinear<T>, k: LoRALinear<T>, v: LoRALinear<T>, o: LoRALinear<T>,
                gate: LoRALinear<T>, up: LoRALinear<T>, down: LoRALinear<T>,
                heads: Int, kvHeads: Int, rmsEps: Double, ropeTheta: Double) {
        self.index = index
        self.inputNorm = inputNorm; self.postAttentionNorm = postAttentionNorm
        self.q = q; self.k = k; self.v = v; self.o = o
        self.gate = gate; self.up = up; self.down = down
        self.heads = heads; self.kvHeads = kvHeads
        headDim = q.outFeatures / heads
        norm = RMSNorm(dim: inputNorm.count, eps: rmsEps)
        rotary = RotaryEmbedding(headDim: headDim, theta: ropeTheta)
    }

    /// The projections in a fixed order (q, k, v, o, gate, up, down), as PEFT names them.
    public var projections: [(name: String, linear: LoRALinear<T>)] {
        [("q_proj", q), ("k_proj", k), ("v_proj", v), ("o_proj", o), ("gate_proj", gate), ("up_proj", up), ("down_proj", down)]
    }

    var hiddenSize: Int { inputNorm.count }

    /// Runs the layer on the residual stream x [pass.rows × hidden], in place. With a cache, the
    /// new keys and values are appended to it and attention covers everything cached.
    ///
    /// `lean` (inference, never with `save`) bounds the activation memory of long or batched
    /// prompts: attention runs sequence by sequence over blocks of `leanQueries` queries and the
    /// MLP over blocks of `leanRows` rows, so that neither the [heads × L × L] probabilities nor
    /// the [rows × intermediate] activations of the whole pass exist at once.
    @_specialize(where T == Float)
    func forward(_ x: Tensor<T>, pass: ForwardPass, rope: (cos: [T], sin: [T]), cache: KVCache<T>?,
                 save: Bool, lean: Bool = false) -> LayerActivations<T>? {
        precondition(!(save && lean), "a lean pass keeps no activations")
        let rows = pass.rows, hidden = hiddenSize, intermediate = gate.outFeatures
        let input = save ? x.copy() : x
        let norm1 = Tensor<T>([rows, hidden]), rstd1 = Tensor<T>([rows])
        norm.forward(x.pointer, weight: inputNorm.pointer, rows: rows, into: norm1.pointer, rstd: rstd1.pointer)

        var lora: [LoRASaved<T>?] = []
        func project(_ linear: LoRALinear<T>, _ input: UnsafePointer<T>, rows: Int, _ slot: Int) -> Tensor<T> {
            let out = Tensor<T>([rows, linear.outFeatures])
            let saved = linear.forward(input, rows: rows, into: out.pointer, useAdapter: pass.useAdapter,
                                       dropoutSeed: pass.dropoutSeed(layer: index, projection: slot), precision: pass.matrixPrecision)
            if save { lora.append(saved) }
            return out
        }
        let qOut = project(q, norm1.pointer, rows: rows, 0), kOut = project(k, norm1.pointer, rows: rows, 1)
        let vOut = project(v, norm1.pointer, rows: rows, 2)
        rotary.forward(qOut.pointer, tokens: rows, heads: heads, cos: rope.cos, sin: rope.sin)
        rotary.forward(kOut.pointer, tokens: rows, heads: kvHeads, cos: rope.cos, sin: rope.sin)

        let past = cache?.length ?? 0, keyCapacity = cache?.capacity ?? pass.length
        var probs = Tensor<T>([0])
        let attention = Tensor<T>([rows, heads * headDim])
        let keys: UnsafePointer<T>, values: UnsafePointer<T>
        if let cache {
            cache.store(layer: index, keys: kOut.pointer, values: vOut.pointer, count: pass.length)
            keys = UnsafePointer(cache.keys(index)); values = UnsafePointer(cache.values(index))
        } else {
            keys = UnsafePointer(kOut.pointer); values = UnsafePointer(vOut.pointer)
        }
        withMask(pass.keyMask) { mask in
            // Sequence by sequence, block by block of queries; the whole pass at once without `lean`.
            let (sequences, block) = lean ? (pass.batch, Self.leanQueries) : (1, max(pass.length, 1))
            let batch = lean ? 1 : pass.batch, keyLength = past + pass.length
            for b in 0..<sequences {
                for start in stride(from: 0, to: pass.length, by: block) {
                    let count = min(block, pass.length - start)
                    let op = CausalAttention(batch: batch, queryLength: count, keyLength: past + start + count,
                                             queryHeads: heads, kvHeads: kvHeads, headDim: headDim, keyCapacity: keyCapacity)
                    if probs.count < op.probabilityCount { probs = Tensor<T>([op.probabilityCount]) }
                    let queries = (b * pass.length + start) * heads * headDim, cached = b * keyCapacity * kvHeads * headDim
                    op.forward(q: qOut.pointer + queries, k: keys + cached, v: values + cached, keyMask: mask.map { $0 + b * keyLength },
                               out: attention.pointer + queries, probs: probs.pointer)
                }
            }
        }
        let attended = project(o, attention.pointer, rows: rows, 3)
        add(attended.pointer, into: x.pointer, count: rows * hidden)
        let middle = save ? x.copy() : x

        // x += down(swiglu(gate(n), up(n))), n = norm(x), over `count` rows from `first`.
        func addMLP(_ first: Int, _ count: Int) -> (norm2: Tensor<T>, rstd2: Tensor<T>, gate: Tensor<T>, up: Tensor<T>, hidden: Tensor<T>) {
            let rowsX = x.pointer + first * hidden
            let norm2 = Tensor<T>([count, hidden]), rstd2 = Tensor<T>([count])
            norm.forward(rowsX, weight: postAttentionNorm.pointer, rows: count, into: norm2.pointer, rstd: rstd2.pointer)
            let gateOut = project(gate, norm2.pointer, rows: count, 4), upOut = project(up, norm2.pointer, rows: count, 5)
            let activated = Tensor<T>([count, intermediate])
            SwiGLU.forward(gate: gateOut.pointer, up: upOut.pointer, count: count * intermediate, into: activated.pointer)
            let mlp = project(down, activated.pointer, rows: count, 6)
            add(mlp.pointer, into: rowsX, count: count * hidden)
            return (norm2, rstd2, gateOut, upOut, activated)
        }
        guard save else {
            let blockRows = lean ? Self.leanRows : max(rows, 1)
            for first in stride(from: 0, to: rows, by: blockRows) { _ = addMLP(first, min(blockRows, rows - first)) }
            return nil
        }
        let mlp = addMLP(0, rows)
        return LayerActivations(input: input, norm1: norm1, rstd1: rstd1, q: qOut, k: kOut, v: vOut, probs: probs,
                                attention: attention, middle: middle, norm2: mlp.norm2, rstd2: mlp.rstd2,
                                gate: mlp.gate, up: mlp.up, hidden: mlp.hidden, lora: lora)
    }

    /// Queries per attention block and rows per MLP block of a lean pass: large enough for
    /// efficient matrix products, small enough that a block's intermediates stay in tens of MB.
    static var leanQueries: Int { 128 }
    static var leanRows: Int { 512 }

    /// Given ∂loss/∂output in dx, replaces it with ∂loss/∂input and accumulates LoRA gradients.
    func backward(_ dx: Tensor<T>, pass: ForwardPass, rope: (cos: [T], sin: [T]), saved s: LayerActivations<T>) {
        let rows = pass.rows, hidden = hiddenSize, intermediate = gate.outFeatures
        // MLP branch: x_out = middle + down(swiglu(gate(n2), up(n2))).
        let dActivated = Tensor<T>([rows, intermediate])
        down.backward(dx.pointer, x: s.hidden.pointer, rows: rows, saved: s.lora[6], dx: dActivated.pointer, precision: pass.matrixPrecision)
        let dGate = Tensor<T>([rows, intermediate]), dUp = Tensor<T>([rows, intermediate])
        SwiGLU.backward(dActivated.pointer, gate: s.gate.pointer, up: s.up.pointer, count: rows * intermediate,
                        dGate: dGate.pointer, dUp: dUp.pointer)
        let dNorm2 = Tensor<T>([rows, hidden])
        gate.backward(dGate.pointer, x: s.norm2.pointer, rows: rows, saved: s.lora[4], dx: dNorm2.pointer, precision: pass.matrixPrecision)
        up.backward(dUp.pointer, x: s.norm2.pointer, rows: rows, saved: s.lora[5], dx: dNorm2.pointer, precision: pass.matrixPrecision)
        norm.backward(dNorm2.pointer, x: s.middle.pointer, weight: postAttentionNorm.pointer, rstd: s.rstd2.pointer,
                      rows: rows, dx: dx.pointer, dWeight: nil)
        // Attention branch: middle = input + o(attention(rope(q(n1)), rope(k(n1)), v(n1))).
        let dAttention = Tensor<T>([rows, heads * headDim])
        o.backward(dx.pointer, x: s.attention.pointer, rows: rows, saved: s.lora[3], dx: dAttention.pointer, precision: pass.matrixPrecision)
        let dq = Tensor<T>(s.q.shape), dk = Tensor<T>(s.k.shape), dv = Tensor<T>(s.v.shape)
        let attentionOp = CausalAttention(batch: pass.batch, queryLength: pass.length, keyLength: pass.length,
                                          queryHeads: heads, kvHeads: kvHeads, headDim: headDim)
        attentionOp.backward(dOut: dAttention.pointer, q: s.q.pointer, k: s.k.pointer, v: s.v.pointer, probs: s.probs.pointer,
                             dq: dq.pointer, dk: dk.pointer, dv: dv.pointer)
        rotary.backward(dq.pointer, tokens: rows, heads: heads, cos: rope.cos, sin: rope.sin)
        rotary.backward(dk.pointer, tokens: rows, heads: kvHeads, cos: rope.cos, sin: rope.sin)
        let dNorm1 = Tensor<T>([rows, hidden])
        q.backward(dq.pointer, x: s.norm1.pointer, rows: rows, saved: s.lora[0], dx: dNorm1.pointer, precision: pass.matrixPrecision)
        k.backward(dk.pointer, x: s.norm1.pointer, rows: rows, saved: s.lora[1], dx: dNorm1.pointer, precision: pass.matrixPrecision)
        v.backward(dv.pointer, x: s.norm1.pointer, rows: rows, saved: s.lora[2], dx: dNorm1.pointer, precision: pass.matrixPrecision)
        norm.backward(dNorm1.pointer, x: s.input.pointer, weight: inputNorm.pointer, rstd: s.rstd1.pointer,
                      rows: rows, dx: dx.pointer, dWeight: nil)
    }

    private func add(_ delta: UnsafePointer<T>, into x: UnsafeMutablePointer<T>, count: Int) {
        Parallel.forRanges(count, grain: 8192) { range in
            for i in range { x[i] += delta[i] }
        }
    }
}

func withMask<R>(_ mask: [UInt8]?, _ body: (UnsafePointer<UInt8>?) -> R) -> R {
    guard let mask else { return body(nil) }
    return mask.withUnsafeBufferPointer { body($0.baseAddress) }
}
