import MedtuneCore

/// Named float tensors of a BERT checkpoint, whatever file holds them.
public protocol BERTWeightSource {
    var tensorNames: [String] { get }
    /// The tensor's shape and its values in float32.
    func floats(_ name: String) throws -> (shape: [Int], values: [Float])
}

/// A BERT encoder (Hugging Face `BertModel`, inference only): word + position + token-type
/// embeddings and LayerNorm, then encoder layers of multi-head self-attention and a GELU
/// feed-forward block, each with a residual connection and LayerNorm. Any layer's hidden states
/// can be read; layers above it are not computed.
///
/// Sequences are processed ragged (no padding): dense products run over all tokens of a pass at
/// once, attention per sequence and head; passes run in parallel.
public final class BERTModel: ContextualEncoder, @unchecked Sendable {
    public let config: BERTConfig
    let wordEmbeddings: Tensor<Float>
    let positionEmbeddings: Tensor<Float>
    let tokenTypeEmbeddings: Tensor<Float>
    let embeddingNorm: (gain: Tensor<Float>, bias: Tensor<Float>)
    let layers: [Layer]
    /// Tokens per forward pass: bounds the activations' memory.
    public var tokensPerPass = 4096

    struct Layer {
        var qkv: (weight: Tensor<Float>, bias: Tensor<Float>)
        var attentionOutput: (weight: Tensor<Float>, bias: Tensor<Float>)
        var attentionNorm: (gain: Tensor<Float>, bias: Tensor<Float>)
        var intermediate: (weight: Tensor<Float>, bias: Tensor<Float>)
        var output: (weight: Tensor<Float>, bias: Tensor<Float>)
        var outputNorm: (gain: Tensor<Float>, bias: Tensor<Float>)
    }

    public var layerCount: Int { config.layerCount }
    public var hiddenSize: Int { config.hiddenSize }
    public var maxSequenceLength: Int { config.maxPositions }

    /// Loads the weights, with or without the `bert.` prefix of checkpoints saved from a
    /// task model, and with LayerNorm parameters named `weight`/`bias` or `gamma`/`beta`.
    public init(config: BERTConfig, weights: BERTWeightSource, file: String? = nil) throws {
        self.config = config
        let names = Set(weights.tensorNames)
        let prefix = names.contains("bert.embeddings.word_embeddings.weight") ? "bert." : ""
        func load(_ name: String, _ shape: [Int]) throws -> Tensor<Float> {
            var candidates = [prefix + name]
            if name.hasSuffix("LayerNorm.weight") { candidates.append(prefix + name.replacingOccurrences(of: "LayerNorm.weight", with: "LayerNorm.gamma")) }
            if name.hasSuffix("LayerNorm.bias") { candidates.append(prefix + name.replacingOccurrences(of: "LayerNorm.bias", with: "LayerNorm.beta")) }
            guard let found = candidates.first(where: names.contains) else {
                throw InputError(file: file, at: "tensor \(prefix + name)", "missing from the BERT weights")
            }
            let (actual, values) = try weights.floats(found)
            guard actual == shape else {
                throw InputError(file: file, at: "tensor \(found)", "has shape \(actual), expected \(shape) from config.json")
            }
            return Tensor(shape, values)
        }
        func norm(_ name: String) throws -> (gain: Tensor<Float>, bias: Tensor<Float>) {
            (try load(name + ".weight", [config.hiddenSize]), try load(name + ".bias", [config.hiddenSize]))
        }
        func linear(_ name: String, out: Int, in inFeatures: Int) throws -> (weight: Tensor<Float>, bias: Tensor<Float>) {
            (try load(name + ".weight", [out, inFeatures]), try load(name + ".bias", [out]))
        }
        let h = config.hiddenSize
        wordEmbeddings = try load("embeddings.word_embeddings.weight", [config.vocabularySize, h])
        positionEmbeddings = try load("embeddings.position_embeddings.weight", [config.maxPositions, h])
        tokenTypeEmbeddings = try load("embeddings.token_type_embeddings.weight", [config.typeVocabularySize, h])
        embeddingNorm = try norm("embeddings.LayerNorm")
        layers = try (0..<config.layerCount).map { i in
            let p = "encoder.layer.\(i)."
            let q = try linear(p + "attention.self.query", out: h, in: h)
            let k = try linear(p + "attention.self.key", out: h, in: h)
            let v = try linear(p + "attention.self.value", out: h, in: h)
            // Queries, keys and values in one product.
            let qkvWeight = Tensor<Float>([3 * h, h]), qkvBias = Tensor<Float>([3 * h])
            for (part, (weight, bias)) in [q, k, v].enumerated() {
                (qkvWeight.pointer + part * h * h).update(from: weight.pointer, count: h * h)
                (qkvBias.pointer + part * h).update(from: bias.pointer, count: h)
            }
            return Layer(qkv: (qkvWeight, qkvBias),
                         attentionOutput: try linear(p + "attention.output.dense", out: h, in: h),
                         attentionNorm: try norm(p + "attention.output.LayerNorm"),
                         intermediate: try linear(p + "intermediate.dense", out: config.intermediateSize, in: h),
                         output: try linear(p + "output.dense", out: h, in: config.intermediateSize),
                         outputNorm: try norm(p + "output.LayerNorm"))
        }
    }

    public func hiddenStates(ids: [[Int]], layer: Int) throws -> TokenStates {
        guard (0...layerCount).contains(layer) else {
            throw InputError(at: "layer \(layer)", "this BERT has layers 0...\(layerCount)")
        }
        for (s, sequence) in ids.enumerated() {
            guard sequence.count <= config.maxPositions else {
                throw InputError(at: "sequence \(s)", "\(sequence.count) tokens exceed the model's \(config.maxPositions) positions")
            }
            if let bad = sequence.first(where: { $0 < 0 || $0 >= config.vocabularySize }) {
                throw InputError(at: "sequence \(s)", "token id \(bad) is outside the vocabulary of \(config.vocabularySize)")
            }
        }
        var offsets = [0]
        for sequence in ids { offsets.append(offsets.last! + sequence.count) }
        let h = hiddenSize
        let result = Tensor<Float>([offsets.last!, h])
        // Consecutive sequences form passes of up to `tokensPerPass` tokens (a longer sequence
        // alone), small enough that every core gets one. Passes run at once, each on one thread
        // with single-threaded BLAS: no core waits on another between operations.
        let perPass = max(1, min(tokensPerPass, (offsets.last! + Parallel.threads - 1) / Parallel.threads))
        var passes: [Range<Int>] = []
        var first = 0
        while first < ids.count {
            var last = first + 1
            while last < ids.count && offsets[last + 1] - offsets[first] <= perPass { last += 1 }
            passes.append(first..<last)
            first = last
        }
        OpenBLAS.shared.withOneThread {
            Parallel.forEach(passes.count) { p in
                let pass = passes[p]
                let passOffsets = offsets[pass.lowerBound...pass.upperBound].map { $0 - offsets[pass.lowerBound] }
                forward(Array(ids[pass]), offsets: passOffsets, layer: layer, into: result.pointer + offsets[pass.lowerBound] * h)
            }
        }
        return TokenStates(values: result, offsets: offsets)
    }

    /// Runs `layer` layers over one batch of sequences, writing `[tokens × hidden]` to `out`.
    private func forward(_ ids: [[Int]], offsets: [Int], layer: Int, into x: UnsafeMutablePointer<Float>) {
        let h = hiddenSize, rows = offsets.last!
        let word = wordEmbeddings.pointer, position = positionEmbeddings.pointer, type = tokenTypeEmbeddings.pointer
        // bert_score passes no token types, so every token is of type 0.
        for (s, sequence) in ids.enumerated() {
            for (p, id) in sequence.enumerated() {
                let row = x + (offsets[s] + p) * h
                for j in 0..<h { row[j] = word[id * h + j] + position[p * h + j] + type[j] }
            }
        }
        EncoderKernels.addLayerNorm(x, residual: nil, rows: rows, width: h, gain: embeddingNorm.gain,
                                    bias: embeddingNorm.bias, eps: config.layerNormEps)
        guard layer > 0 else { return }
        let qkv = Tensor<Float>([rows, 3 * h]), context = Tensor<Float>([rows, h]), projected = Tensor<Float>([rows, h])
        let intermediate = Tensor<Float>([rows, config.intermediateSize])
        for l in layers[..<layer] {
            EncoderKernels.linear(x, rows: rows, weight: l.qkv.weight, bias: l.qkv.bias, into: qkv.pointer)
            EncoderKernels.attention(qkv: qkv.pointer, offsets: offsets, heads: config.headCount,
                                     headDim: h / config.headCount, into: context.pointer)
            EncoderKernels.linear(context.pointer, rows: rows, weight: l.attentionOutput.weight, bias: l.attentionOutput.bias,
                                  into: projected.pointer)
            EncoderKernels.addLayerNorm(projected.pointer, residual: x, rows: rows, width: h, gain: l.attentionNorm.gain,
                                        bias: l.attentionNorm.bias, eps: config.layerNormEps)
            EncoderKernels.linear(projected.pointer, rows: rows, weight: l.intermediate.weight, bias: l.intermediate.bias,
                                  into: intermediate.pointer)
            EncoderKernels.gelu(intermediate.pointer, count: intermediate.count)
            EncoderKernels.linear(intermediate.pointer, rows: rows, weight: l.output.weight, bias: l.output.bias, into: x)
            EncoderKernels.addLayerNorm(x, residual: projected.pointer, rows: rows, width: h, gain: l.outputNorm.gain,
                                        bias: l.outputNorm.bias, eps: config.layerNormEps)
        }
    }
}
