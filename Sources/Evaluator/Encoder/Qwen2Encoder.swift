import MedtuneCore
import Transformer

/// A Qwen2 decoder as a BERTScore encoder: the hidden states after layer N of the base model (no
/// adapter), each sentence encoded on its own (causal attention needs no padding mask).
///
/// Not standard BERTScore: a causal model's token vectors only see the left context, and the
/// numbers are on their own scale. It exists because no Chinese BERT can be had offline; its
/// settings string names the model family (`qwen2:<name>`) so its scores are not mistaken for
/// bert_score's.
public final class Qwen2Encoder: ContextualEncoder, @unchecked Sendable {
    public let model: any HiddenStateModel<Float>
    public let maxSequenceLength: Int

    public init(model: any HiddenStateModel<Float>, maxSequenceLength: Int) {
        self.model = model
        self.maxSequenceLength = maxSequenceLength
    }

    public var layerCount: Int { model.layerCount }
    public var hiddenSize: Int { model.hiddenSize }

    public func hiddenStates(ids: [[Int]], layer: Int) throws -> TokenStates {
        guard (0...layerCount).contains(layer) else {
            throw InputError(at: "layer \(layer)", "this model has layers 0...\(layerCount)")
        }
        var offsets = [0]
        for sequence in ids { offsets.append(offsets.last! + sequence.count) }
        let h = hiddenSize
        let result = Tensor<Float>([offsets.last!, h])
        for (s, sequence) in ids.enumerated() where !sequence.isEmpty {
            guard sequence.count <= maxSequenceLength else {
                throw InputError(at: "sequence \(s)", "\(sequence.count) tokens exceed the \(maxSequenceLength) this encoder takes")
            }
            if let bad = sequence.first(where: { $0 < 0 || $0 >= model.vocabulary }) {
                throw InputError(at: "sequence \(s)", "token id \(bad) is outside the vocabulary of \(model.vocabulary)")
            }
            let pass = ForwardPass(batch: 1, length: sequence.count, useAdapter: false)
            let states = model.hiddenStates(sequence.map { Int32($0) }, pass: pass, layer: layer)
            (result.pointer + offsets[s] * h).update(from: states.pointer, count: sequence.count * h)
        }
        return TokenStates(values: result, offsets: offsets)
    }
}
