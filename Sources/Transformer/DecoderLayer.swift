import MedtuneCore

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
    /// What each adapted projection kept (none for projections without an active adapter).
    var lora: [Projection: LoRASaved<T>]
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

    public subscript(projection: Projection) -> LoRALinear<T> {
        switch projection {
        case .q: q
        case .k: k
        case .v: v
        case .o: o
        case .gate: gate
        case .up: up
        case .down: down
        }
    }

    /// The projections in model order.
    public var projections: [(projection: Projection, linear: LoRALinear<T>)] { Projection.allCases.map { ($0, self[$0]) } }

    var hiddenSize: Int { inputNorm.count }

    /// The training forward, the reference every other pass of the layer follows: runs the layer
    /// on the residual stream x [pass.rows × hidden], in place, the whole pass at once; with
    /// `save`, returns what backward needs.
    @_specialize(where T == Float)
    func forward(_ x: Tensor<T>, pass: ForwardPass, rope: (cos: [T], sin: [T]), save: Bool) -> LayerActivations<T>? {
        let rows = pass.rows
        let input = save ? x.copy() : x
        var lora: [Projection: LoRASaved<T>] = [:]
        let (norm1, rstd1, qOut, kOut, vOut) = attentionInputs(x, pass: pass, rope: rope, lora: &lora)
        let op = CausalAttention(batch: pass.batch, queryLength: pass.length, keyLength: pass.length,
                                 queryHeads: heads, kvHeads: kvHeads, headDim: headDim)
        let probs = Tensor<T>([op.probabilityCount]), attention = Tensor<T>([rows, heads * headDim])
        withMask(pass.keyMask) { mask in
            op.forward(q: qOut.pointer, k: kOut.pointer, v: vOut.pointer, keyMask: mask, out: attention.pointer, probs: probs.pointer)
        }
        addAttended(attention, into: x, pass: pass, lora: &lora)
        let middle = save ? x.copy() : x
        let mlp = addMLP(x.pointer, rows: rows, pass: pass, lora: &lora)
        guard save else { return nil }
        return LayerActivations(input: input, norm1: norm1, rstd1: rstd1, q: qOut, k: kOut, v: vOut, probs: probs,
                                attention: attention, middle: middle, norm2: mlp.norm2, rstd2: mlp.rstd2,
                                gate: mlp.gate, up: mlp.up, hidden: mlp.hidden, lora: lora)
    }

    /// y = projection(input) over `rows` rows, keeping in `lora` what the adapter's backward needs.
    func project(_ projection: Projection, _ input: UnsafePointer<T>, rows: Int, pass: ForwardPass,
                 lora: inout [Projection: LoRASaved<T>]) -> Tensor<T> {
        let linear = self[projection], out = Tensor<T>([rows, linear.outFeatures])
        lora[projection] = linear.forward(input, rows: rows, into: out.pointer, useAdapter: pass.useAdapter,
                                          dropoutSeed: pass.dropoutSeed(AdapterSite(layer: index, projection)),
                                          precision: pass.matrixPrecision)
        return out
    }

    /// n = norm(x); the rotated queries and keys, and the values, of n.
    func attentionInputs(_ x: Tensor<T>, pass: ForwardPass, rope: (cos: [T], sin: [T]), lora: inout [Projection: LoRASaved<T>])
        -> (norm: Tensor<T>, rstd: Tensor<T>, q: Tensor<T>, k: Tensor<T>, v: Tensor<T>) {
        let rows = pass.rows
        let normed = Tensor<T>([rows, hiddenSize]), rstd = Tensor<T>([rows])
        norm.forward(x.pointer, weight: inputNorm.pointer, rows: rows, into: normed.pointer, rstd: rstd.pointer)
        let qOut = project(.q, normed.pointer, rows: rows, pass: pass, lora: &lora)
        let kOut = project(.k, normed.pointer, rows: rows, pass: pass, lora: &lora)
        let vOut = project(.v, normed.pointer, rows: rows, pass: pass, lora: &lora)
        rotary.forward(qOut.pointer, tokens: rows, heads: heads, cos: rope.cos, sin: rope.sin)
        rotary.forward(kOut.pointer, tokens: rows, heads: kvHeads, cos: rope.cos, sin: rope.sin)
        return (normed, rstd, qOut, kOut, vOut)
    }

    /// x += o(attention).
    func addAttended(_ attention: Tensor<T>, into x: Tensor<T>, pass: ForwardPass, lora: inout [Projection: LoRASaved<T>]) {
        let attended = project(.o, attention.pointer, rows: pass.rows, pass: pass, lora: &lora)
        add(attended.pointer, into: x.pointer, count: pass.rows * hiddenSize)
    }

    /// x += down(swiglu(gate(n), up(n))), n = norm(x), over `rows` rows of x.
    func addMLP(_ x: UnsafeMutablePointer<T>, rows: Int, pass: ForwardPass, lora: inout [Projection: LoRASaved<T>])
        -> (norm2: Tensor<T>, rstd2: Tensor<T>, gate: Tensor<T>, up: Tensor<T>, hidden: Tensor<T>) {
        let hidden = hiddenSize, intermediate = gate.outFeatures
        let norm2 = Tensor<T>([rows, hidden]), rstd2 = Tensor<T>([rows])
        norm.forward(x, weight: postAttentionNorm.pointer, rows: rows, into: norm2.pointer, rstd: rstd2.pointer)
        let gateOut = project(.gate, norm2.pointer, rows: rows, pass: pass, lora: &lora)
        let upOut = project(.up, norm2.pointer, rows: rows, pass: pass, lora: &lora)
        let activated = Tensor<T>([rows, intermediate])
        SwiGLU.forward(gate: gateOut.pointer, up: upOut.pointer, count: rows * intermediate, into: activated.pointer)
        let mlp = project(.down, activated.pointer, rows: rows, pass: pass, lora: &lora)
        add(mlp.pointer, into: x, count: rows * hidden)
        return (norm2, rstd2, gateOut, upOut, activated)
    }

    /// Given ∂loss/∂output in dx, replaces it with ∂loss/∂input and accumulates LoRA gradients.
    func backward(_ dx: Tensor<T>, pass: ForwardPass, rope: (cos: [T], sin: [T]), saved s: LayerActivations<T>) {
        let rows = pass.rows, hidden = hiddenSize, intermediate = gate.outFeatures
        // MLP branch: x_out = middle + down(swiglu(gate(n2), up(n2))).
        let dActivated = Tensor<T>([rows, intermediate])
        down.backward(dx.pointer, x: s.hidden.pointer, rows: rows, saved: s.lora[.down], dx: dActivated.pointer, precision: pass.matrixPrecision)
        let dGate = Tensor<T>([rows, intermediate]), dUp = Tensor<T>([rows, intermediate])
        SwiGLU.backward(dActivated.pointer, gate: s.gate.pointer, up: s.up.pointer, count: rows * intermediate,
                        dGate: dGate.pointer, dUp: dUp.pointer)
        let dNorm2 = Tensor<T>([rows, hidden])
        gate.backward(dGate.pointer, x: s.norm2.pointer, rows: rows, saved: s.lora[.gate], dx: dNorm2.pointer, precision: pass.matrixPrecision)
        up.backward(dUp.pointer, x: s.norm2.pointer, rows: rows, saved: s.lora[.up], dx: dNorm2.pointer, precision: pass.matrixPrecision)
        norm.backward(dNorm2.pointer, x: s.middle.pointer, weight: postAttentionNorm.pointer, rstd: s.rstd2.pointer,
                      rows: rows, dx: dx.pointer, dWeight: nil)
        // Attention branch: middle = input + o(attention(rope(q(n1)), rope(k(n1)), v(n1))).
        let dAttention = Tensor<T>([rows, heads * headDim])
        o.backward(dx.pointer, x: s.attention.pointer, rows: rows, saved: s.lora[.o], dx: dAttention.pointer, precision: pass.matrixPrecision)
        let dq = Tensor<T>(s.q.shape), dk = Tensor<T>(s.k.shape), dv = Tensor<T>(s.v.shape)
        let attentionOp = CausalAttention(batch: pass.batch, queryLength: pass.length, keyLength: pass.length,
                                          queryHeads: heads, kvHeads: kvHeads, headDim: headDim)
        attentionOp.backward(dOut: dAttention.pointer, q: s.q.pointer, k: s.k.pointer, v: s.v.pointer, probs: s.probs.pointer,
                             dq: dq.pointer, dk: dk.pointer, dv: dv.pointer)
        rotary.backward(dq.pointer, tokens: rows, heads: heads, cos: rope.cos, sin: rope.sin)
        rotary.backward(dk.pointer, tokens: rows, heads: kvHeads, cos: rope.cos, sin: rope.sin)
        let dNorm1 = Tensor<T>([rows, hidden])
        q.backward(dq.pointer, x: s.norm1.pointer, rows: rows, saved: s.lora[.q], dx: dNorm1.pointer, precision: pass.matrixPrecision)
        k.backward(dk.pointer, x: s.norm1.pointer, rows: rows, saved: s.lora[.k], dx: dNorm1.pointer, precision: pass.matrixPrecision)
        v.backward(dv.pointer, x: s.norm1.pointer, rows: rows, saved: s.lora[.v], dx: dNorm1.pointer, precision: pass.matrixPrecision)
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
