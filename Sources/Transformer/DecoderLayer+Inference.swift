import Foundation
import MedtuneCore

/// The inference passes of a layer: the same computation as the training forward
/// (`DecoderLayer.forward`), arranged for memory and for speed rather than for backward.
extension DecoderLayer {
    /// Runs the layer on x [pass.rows × hidden], in place, keeping nothing for backward. With a
    /// cache, the new keys and values are appended to it and attention covers everything cached.
    ///
    /// Long or batched prompts stay within bounded memory: attention runs sequence by sequence
    /// over blocks of `blockQueries` queries and the MLP over blocks of `blockRows` rows, so that
    /// neither the [heads × L × L] probabilities nor the [rows × intermediate] activations of the
    /// whole pass exist at once.
    @_specialize(where T == Float)
    func infer(_ x: Tensor<T>, pass: ForwardPass, rope: (cos: [T], sin: [T]), cache: KVCache<T>?) {
        let rows = pass.rows, hidden = hiddenSize
        var lora: [Projection: LoRASaved<T>] = [:]
        let (_, _, qOut, kOut, vOut) = attentionInputs(x, pass: pass, rope: rope, lora: &lora)
        let past = cache?.length ?? 0, keyCapacity = cache?.capacity ?? pass.length
        let keys: UnsafePointer<T>, values: UnsafePointer<T>
        if let cache {
            cache.store(layer: index, keys: kOut.pointer, values: vOut.pointer, count: pass.length)
            keys = UnsafePointer(cache.keys(index)); values = UnsafePointer(cache.values(index))
        } else {
            keys = UnsafePointer(kOut.pointer); values = UnsafePointer(vOut.pointer)
        }
        var probs = Tensor<T>([0])
        let attention = Tensor<T>([rows, heads * headDim])
        withMask(pass.keyMask) { mask in
            let keyLength = past + pass.length
            for b in 0..<pass.batch {
                for start in stride(from: 0, to: pass.length, by: Self.blockQueries) {
                    let count = min(Self.blockQueries, pass.length - start)
                    let op = CausalAttention(batch: 1, queryLength: count, keyLength: past + start + count,
                                             queryHeads: heads, kvHeads: kvHeads, headDim: headDim, keyCapacity: keyCapacity)
                    if probs.count < op.probabilityCount { probs = Tensor<T>([op.probabilityCount]) }
                    let queries = (b * pass.length + start) * heads * headDim, cached = b * keyCapacity * kvHeads * headDim
                    op.forward(q: qOut.pointer + queries, k: keys + cached, v: values + cached, keyMask: mask.map { $0 + b * keyLength },
                               out: attention.pointer + queries, probs: probs.pointer)
                }
            }
        }
        addAttended(attention, into: x, pass: pass, lora: &lora)
        for first in stride(from: 0, to: rows, by: Self.blockRows) {
            _ = addMLP(x.pointer + first * hidden, rows: min(Self.blockRows, rows - first), pass: pass, lora: &lora)
        }
    }

    /// Queries per attention block and rows per MLP block of an inference pass: large enough for
    /// efficient matrix products, small enough that a block's intermediates stay in tens of MB.
    static var blockQueries: Int { 128 }
    static var blockRows: Int { 512 }
}

/// The scalars a decoder runs in, each with its decoding step (one new token per sequence against
/// the cache), chosen by the type: float32 has a fused step of its own (`DecoderLayer.decode`),
/// others take the inference pass.
public protocol DecoderScalar: Scalar {
    static func decodingStep(_ layer: DecoderLayer<Self>, _ x: Tensor<Self>, pass: ForwardPass,
                             rope: (cos: [Self], sin: [Self]), cache: KVCache<Self>)
}

extension Double: DecoderScalar {
    public static func decodingStep(_ layer: DecoderLayer<Double>, _ x: Tensor<Double>, pass: ForwardPass,
                                    rope: (cos: [Double], sin: [Double]), cache: KVCache<Double>) {
        layer.infer(x, pass: pass, rope: rope, cache: cache)
    }
}

extension Float: DecoderScalar {
    public static func decodingStep(_ layer: DecoderLayer<Float>, _ x: Tensor<Float>, pass: ForwardPass,
                                    rope: (cos: [Float], sin: [Float]), cache: KVCache<Float>) {
        layer.decode(x, pass: pass, rope: rope, cache: cache)
    }
}

/// The float32 decoding step.
///
/// Its products have one or a few input rows, so their work is small next to the cost of
/// splitting it across threads; the step therefore runs the products that share an input as one
/// parallel region (q, k and v; gate and up, with the gated activation applied in the same chunk),
/// adds o and down straight into the residual stream, and attends with plain dot products instead
/// of a BLAS call per head. Results are those of `forward` up to the order of float additions.
extension DecoderLayer where T == Float {
    /// Runs the layer on x [pass.batch × hidden] (pass.length == 1), in place, appending the new
    /// keys and values to the cache.
    func decode(_ x: Tensor<Float>, pass: ForwardPass, rope: (cos: [Float], sin: [Float]), cache: KVCache<Float>) {
        let rows = pass.rows, hidden = hiddenSize, intermediate = gate.outFeatures
        precondition(pass.length == 1, "a decoding step takes one token per sequence")
        let normed = Tensor<Float>([rows, hidden]), rstd = Tensor<Float>([rows])
        norm.forward(x.pointer, weight: inputNorm.pointer, rows: rows, into: normed.pointer, rstd: rstd.pointer)

        let qOut = Tensor<Float>([rows, q.outFeatures]), kOut = Tensor<Float>([rows, k.outFeatures])
        let vOut = Tensor<Float>([rows, v.outFeatures])
        project([(q, qOut.pointer), (k, kOut.pointer), (v, vOut.pointer)], normed.pointer, rows: rows, pass: pass)
        rotary.forward(qOut.pointer, tokens: rows, heads: heads, cos: rope.cos, sin: rope.sin)
        rotary.forward(kOut.pointer, tokens: rows, heads: kvHeads, cos: rope.cos, sin: rope.sin)
        cache.store(layer: index, keys: kOut.pointer, values: vOut.pointer, count: 1)

        let attention = Tensor<Float>([rows, heads * headDim])
        withMask(pass.keyMask) { mask in
            attend(qOut.pointer, cache: cache, keyMask: mask, into: attention.pointer)
        }
        projectAdding(o, attention.pointer, rows: rows, pass: pass, into: x.pointer)

        norm.forward(x.pointer, weight: postAttentionNorm.pointer, rows: rows, into: normed.pointer, rstd: rstd.pointer)
        let activated = Tensor<Float>([rows, intermediate])
        gatedActivation(normed.pointer, rows: rows, pass: pass, into: activated.pointer)
        projectAdding(down, activated.pointer, rows: rows, pass: pass, into: x.pointer)
    }

    /// Projections of one input, their frozen products in one parallel region when every base
    /// splits its product by rows (`SharedInputProducts`).
    private func project(_ targets: [(linear: LoRALinear<Float>, output: UnsafeMutablePointer<Float>)],
                         _ input: UnsafePointer<Float>, rows: Int, pass: ForwardPass) {
        SharedInputProducts.compute(targets.map { ($0.linear.base, $0.output) }, of: input, rows: rows, precision: pass.matrixPrecision)
        for (linear, y) in targets { _ = linear.addBiasAndAdapter(input, rows: rows, into: y, useAdapter: pass.useAdapter) }
    }

    /// x += linear(input): the residual addition made by the product itself.
    private func projectAdding(_ linear: LoRALinear<Float>, _ input: UnsafePointer<Float>, rows: Int, pass: ForwardPass,
                               into x: UnsafeMutablePointer<Float>) {
        SharedInputProducts.compute([(linear.base, x)], of: input, rows: rows, accumulate: true, precision: pass.matrixPrecision)
        _ = linear.addBiasAndAdapter(input, rows: rows, into: x, useAdapter: pass.useAdapter)
    }

    /// h = silu(gate(input)) · up(input). Without bias or active adapter on either projection,
    /// each chunk of rows is activated as soon as both products have it.
    private func gatedActivation(_ input: UnsafePointer<Float>, rows: Int, pass: ForwardPass, into h: UnsafeMutablePointer<Float>) {
        let intermediate = gate.outFeatures
        let gateOut = Tensor<Float>([rows, intermediate]), upOut = Tensor<Float>([rows, intermediate])
        let g = gateOut.pointer, u = upOut.pointer
        let plain = [gate, up].allSatisfy { $0.bias == nil && !(pass.useAdapter && $0.adapter != nil) }
        let fused = plain && SharedInputProducts.paired(gate.base, up.base, of: input, rows: rows, into: g, u,
                                                        precision: pass.matrixPrecision) { columns in
            for r in 0..<rows {
                let offset = r * intermediate + columns.lowerBound
                SwiGLU.forwardFloat(gate: g + offset, up: u + offset, count: columns.count, into: h + offset)
            }
        }
        if fused { return }
        project([(gate, g), (up, u)], input, rows: rows, pass: pass)
        SwiGLU.forwardFloat(gate: g, up: u, count: rows * intermediate, into: h)
    }

    /// Attention of each sequence's one new query over its cached keys (the new one included),
    /// head by head: scores, masked softmax, weighted sum of values. A sequence whose every key is
    /// masked gets a zero output, as in `CausalAttention`.
    private func attend(_ q: UnsafePointer<Float>, cache: KVCache<Float>, keyMask: UnsafePointer<UInt8>?,
                        into out: UnsafeMutablePointer<Float>) {
        let batch = cache.batch, length = cache.length + 1, capacity = cache.capacity
        let headDim = self.headDim, heads = self.heads, group = heads / kvHeads, kvStride = kvHeads * headDim
        let keys = UnsafePointer(cache.keys(index)), values = UnsafePointer(cache.values(index))
        let scale = 1 / Float(headDim).squareRoot()
        let scores = Tensor<Float>([batch * heads, length])
        // Query head `task % heads` of sequence `task / heads`.
        func attendHead(_ task: Int) {
            let b = task / heads, h = task % heads
            let query = q + task * headDim, result = out + task * headDim
            let k = keys + b * capacity * kvStride + (h / group) * headDim
            let v = values + b * capacity * kvStride + (h / group) * headDim
            let mask = keyMask.map { $0 + b * length }
            let p = scores.pointer + task * length
            for s in 0..<length where mask?[s] ?? 1 != 0 {
                p[s] = scale * Dot.product(query, k + s * kvStride, headDim)
            }
            // A NaN score makes the weights, and so the output, NaN; a sequence with every key
            // masked gets zero weights and a zero output, as in `CausalAttention`.
            Softmax.vectorized(p, count: length, mask: mask)
            result.update(repeating: 0, count: headDim)
            for s in 0..<length where p[s] != 0 {
                let weight = p[s], row = v + s * kvStride
                for j in 0..<headDim { result[j] += weight * row[j] }
            }
        }
        Parallel.forRangesOnTeam(batch * heads, grain: max(1, (1 << 14) / (length * headDim))) { tasks in
            for task in tasks { attendHead(task) }
        }
    }
}
