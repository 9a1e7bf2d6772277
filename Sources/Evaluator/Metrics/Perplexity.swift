import Foundation
import MedtuneCore
import Transformer

/// Perplexity of a model over a text, measured as llama.cpp's llama-perplexity measures it, so
/// that the two are comparable on the same file: the tokens are cut into chunks of `context`
/// (the remainder dropped, the first token of each chunk replaced by BOS where the tokenizer adds
/// one), each chunk is one pass, and only the second half of each chunk is scored (every scored
/// token sees at least context/2 tokens before it): the mean negative log-likelihood of those
/// tokens, exponentiated, with the standard error of the mean carried through the exponential.
public struct Perplexity: Sendable {
    public var context: Int
    public var bos: Int32?

    public init(context: Int, bos: Int32?) {
        self.context = context
        self.bos = bos
    }

    public struct Result: Sendable, Equatable {
        public var perplexity: Double
        /// The standard error of `perplexity` (llama-perplexity's "+/-").
        public var standardError: Double
        public var scoredTokens: Int
        public var chunks: Int
    }

    /// Chunks available in `tokenCount` tokens (llama-perplexity asks for at least two).
    public func chunks(in tokenCount: Int) -> Int { tokenCount / context }

    /// Runs the first `limit` chunks (all when nil), the products with frozen weights in
    /// `precision`; `progress(chunk, running perplexity)` after each.
    public func measure(_ model: Qwen2Model<Float>, tokens: [Int32], limit: Int? = nil, useAdapter: Bool = true,
                        precision: MatrixPrecision = .float32, progress: (Int, Double) -> Void = { _, _ in }) -> Result {
        let total = min(chunks(in: tokens.count), limit ?? .max), first = context / 2
        var nll = 0.0, squares = 0.0, count = 0
        for chunk in 0..<total {
            var ids = Array(tokens[(chunk * context)..<((chunk + 1) * context)])
            if let bos { ids[0] = bos }
            let rows = Array(first..<(context - 1))
            let logits = model.logits(tokens: ids, pass: ForwardPass(batch: 1, length: context, useAdapter: useAdapter, matrixPrecision: precision),
                                      rows: rows)
            let vocabulary = model.vocabulary, values = logits.buffer
            for (r, position) in rows.enumerated() {
                // −log softmax(row)[next token], in Double.
                let row = UnsafeBufferPointer(rebasing: values[(r * vocabulary)..<((r + 1) * vocabulary)])
                let maximum = Double(row.max() ?? 0)
                var sum = 0.0
                for v in row { sum += Foundation.exp(Double(v) - maximum) }
                let loss = maximum + Foundation.log(sum) - Double(row[Int(ids[position + 1])])
                nll += loss
                squares += loss * loss
                count += 1
            }
            progress(chunk + 1, Foundation.exp(nll / Double(count)))
        }
        let mean = nll / Double(max(count, 1)), perplexity = Foundation.exp(mean)
        let variance = squares / Double(max(count, 1)) - mean * mean
        let error = count > 1 && variance > 0 ? (variance / Double(count - 1)).squareRoot() * perplexity : 0
        return Result(perplexity: perplexity, standardError: error, scoredTokens: count, chunks: total)
    }
}
