import MedtuneCore
import Transformer

/// Why a sequence stopped.
public enum FinishReason: String, Codable, Sendable {
    case endOfSequence = "eos"
    case stopString = "stop"
    case length
}

/// One generated continuation.
public struct Generation: Sendable {
    public var promptIDs: [Int32]
    public var ids: [Int32] = []
    public var finishReason: FinishReason = .length
    /// Per generated token: the most likely tokens of the model's distribution, when asked for.
    public var topLogprobs: [[(id: Int32, logprob: Double)]] = []
}

/// KV-cached batch generation over token ids.
///
/// Prompts of different lengths are padded on the left, never elsewhere: each sequence's real
/// tokens get positions 0, 1, … as if alone, padding is masked out of attention, and nothing is
/// padded to a fixed length. One prefill pass covers every prompt, then one token per step.
public struct TokenGenerator<Model: DecodingModel> {
    public let model: Model
    public var endOfSequence: Set<Int32>
    public var padID: Int32
    /// Precision of the products with frozen weights (`ForwardPass.matrixPrecision`).
    public var matrixPrecision: MatrixPrecision

    public init(model: Model, endOfSequence: Set<Int32>, padID: Int32, matrixPrecision: MatrixPrecision = .float32) {
        self.model = model; self.endOfSequence = endOfSequence; self.padID = padID; self.matrixPrecision = matrixPrecision
    }

    /// Generates a continuation of each prompt.
    /// `onToken(sequence, id)` runs as each token is chosen and returns true to stop that sequence
    /// (a stop string, say). `useAdapter` chooses the tuned model or the untouched base.
    // TextGenerator holds its model as `any DecodingModel`, so this body runs generically; it
    // branches at once to code specialised for the CPU model, as a concrete caller would get.
    @_specialize(where Model == Qwen2Model<Float>)
    public func generate(prompts: [[Int32]], options: SamplingOptions, useAdapter: Bool, topLogprobs: Int = 0,
                         onToken: (Int, Int32) -> Bool = { _, _ in false }) -> [Generation] {
        precondition(prompts.allSatisfy { !$0.isEmpty }, "empty prompt")
        let batch = prompts.count, longest = prompts.map(\.count).max() ?? 0
        let cache = model.makeCache(batch: batch, capacity: longest + options.maxNewTokens)
        var tokens: [Int32] = [], mask: [UInt8] = [], positions: [Int] = []
        for prompt in prompts {
            let padding = longest - prompt.count
            tokens += Array(repeating: padID, count: padding) + prompt
            mask += Array(repeating: 0, count: padding) + Array(repeating: 1, count: prompt.count)
            positions += Array(repeating: 0, count: padding) + Array(0..<prompt.count)
        }
        var results = prompts.map { Generation(promptIDs: $0) }
        var samplers = (0..<batch).map { Sampler(options: options, stream: UInt64($0)) }
        var histories = prompts.map { Set($0) }
        var finished = [Bool](repeating: false, count: batch)
        var nextPositions = prompts.map(\.count)

        // Plain greedy decoding needs only each row's argmax, which the model can pick where its
        // logits are (a GPU copies back one id per sequence); anything else reads whole rows.
        let greedyOnModel = options.isGreedy && options.repetitionPenalty == 1 && topLogprobs == 0
        var pass = ForwardPass(batch: batch, length: longest, positions: positions, keyMask: mask, useAdapter: useAdapter,
                               matrixPrecision: matrixPrecision)
        var logits: Tensor<Model.Element>?, picks: [Int32] = []
        if greedyOnModel { picks = model.prefillGreedy(tokens, pass: pass, cache: cache) } else { logits = model.prefill(tokens, pass: pass, cache: cache) }
        var row = [Float](repeating: 0, count: greedyOnModel ? 0 : model.vocabulary)
        for step in 0..<options.maxNewTokens {
            var chosen = [Int32](repeating: padID, count: batch)
            for b in 0..<batch where !finished[b] {
                let id: Int32
                if let logits {
                    copyRow(b, of: logits, into: &row)
                    if topLogprobs > 0 {
                        results[b].topLogprobs.append(row.withUnsafeBufferPointer { LogProbabilities.top($0, k: topLogprobs) })
                    }
                    id = row.withUnsafeMutableBufferPointer { samplers[b].next($0, history: histories[b]) }
                } else {
                    id = picks[b]
                }
                chosen[b] = id
                histories[b].insert(id)
                if endOfSequence.contains(id) {
                    finished[b] = true
                    results[b].finishReason = .endOfSequence
                    continue
                }
                results[b].ids.append(id)
                if onToken(b, id) {
                    finished[b] = true
                    results[b].finishReason = .stopString
                }
            }
            if finished.allSatisfy({ $0 }) || step == options.maxNewTokens - 1 { break }
            // Finished sequences keep stepping with a padding token so the batch stays aligned.
            mask = zip(0..<batch, mask.chunked(mask.count / batch)).flatMap { $1 + [1] }
            positions = nextPositions
            for b in 0..<batch { nextPositions[b] += 1 }
            pass = ForwardPass(batch: batch, length: 1, positions: positions, keyMask: mask, useAdapter: useAdapter,
                               matrixPrecision: matrixPrecision)
            if greedyOnModel { picks = model.decodeGreedy(chosen, pass: pass, cache: cache) } else { logits = model.decode(chosen, pass: pass, cache: cache) }
        }
        return results
    }
}

/// Row `b` of `logits` as Float. A model other than the CPU one reaches `generate`
/// unspecialised; this loop over a vocabulary-wide row must not run through generic conversions
/// there (it would cost more than a GPU's decoding step), so it branches to specialised code of
/// its own.
@_specialize(where Element == Float)
@_specialize(where Element == Double)
private func copyRow<Element: Scalar>(_ b: Int, of logits: Tensor<Element>, into row: inout [Float]) {
    let vocabulary = row.count
    for j in 0..<vocabulary { row[j] = Float(logits.buffer[b * vocabulary + j]) }
}

extension Array {
    /// Consecutive slices of `size` elements.
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
