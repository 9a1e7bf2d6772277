import MedtuneCore
import Tokenizers
import Transformer

/// A generated answer as text.
public struct TextGeneration: Sendable {
    public var promptTokens: Int
    public var ids: [Int32]
    public var text: String
    public var finishReason: FinishReason
    public var topLogprobs: [[(id: Int32, logprob: Double)]]
}

/// Text in, text out: prompts are tokenized (special-token text matched when the template uses
/// it), continuations are decoded by a streaming decoder so that every piece handed to `stream`
/// is whole UTF-8, and a stop string ends its sequence where it appears (it is not part of the
/// text, and no piece of it is ever streamed).
public struct TextGenerator {
    public let model: any DecodingModel<Float>
    public let tokenizer: BPETokenizer
    public var endOfSequence: Set<Int32>
    public var stopStrings: [String]
    public var contextLength: Int
    /// Precision of the products with frozen weights (`ForwardPass.matrixPrecision`).
    public var matrixPrecision: MatrixPrecision

    public init(model: any DecodingModel<Float>, tokenizer: BPETokenizer, endOfSequence: Set<Int32>, stopStrings: [String] = [],
                contextLength: Int, matrixPrecision: MatrixPrecision = .float32) {
        self.model = model; self.tokenizer = tokenizer; self.endOfSequence = endOfSequence
        self.stopStrings = stopStrings.filter { !$0.isEmpty }; self.contextLength = contextLength
        self.matrixPrecision = matrixPrecision
    }

    /// Token ids of a prompt; empty prompts and prompts that leave no room in the context are refused.
    /// A chat template writes the model's framing itself (its BOS and turn markers): its
    /// special-token text is matched and nothing is added, as HF's `apply_chat_template` does.
    /// Plain prompts get what the tokenizer adds (a BOS for DeepSeek-R1-Distill).
    public func encode(_ prompt: String, template: PromptTemplate?, maxNewTokens: Int) throws -> [Int32] {
        let framed = template?.usesSpecialTokens ?? false
        return try encode(prompt, allowSpecial: template == nil || framed, addSpecialTokens: !framed, maxNewTokens: maxNewTokens)
    }

    public func encode(_ prompt: String, allowSpecial: Bool, addSpecialTokens: Bool, maxNewTokens: Int) throws -> [Int32] {
        guard !prompt.isEmpty else { throw InputError(at: "prompt", "the prompt is empty") }
        let ids = tokenizer.encode(prompt, allowSpecial: allowSpecial, addSpecialTokens: addSpecialTokens).map(Int32.init)
        guard !ids.isEmpty else { throw InputError(at: "prompt", "the prompt has no tokens") }
        guard ids.count + maxNewTokens <= contextLength else {
            throw InputError(at: "prompt", "\(ids.count) prompt tokens + \(maxNewTokens) new tokens exceed the model's context of \(contextLength)")
        }
        return ids
    }

    /// Generates for every prompt in one batch. `stream(sequence, piece)` receives text as it is
    /// produced. With `useAdapter` false the LoRA adapters take no part: the base model answers.
    public func generate(prompts: [[Int32]], options: SamplingOptions, useAdapter: Bool, topLogprobs: Int = 0,
                         stream: ((Int, String) -> Void)? = nil) -> [TextGeneration] {
        let pad = Int32(tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0)
        var texts = prompts.map { _ in StreamedText(tokenizer: tokenizer, stopStrings: stopStrings) }
        let results = tokens(of: model, prompts: prompts, options: options, useAdapter: useAdapter, topLogprobs: topLogprobs,
                             padID: pad) { b, id in
            let (piece, stopped) = texts[b].append(Int(id))
            if !piece.isEmpty { stream?(b, piece) }
            return stopped
        }
        return results.enumerated().map { b, result in
            let rest = texts[b].finish()
            if !rest.isEmpty { stream?(b, rest) }
            return TextGeneration(promptTokens: result.promptIDs.count, ids: result.ids, text: texts[b].text,
                                  finishReason: result.finishReason, topLogprobs: result.topLogprobs)
        }
    }

    /// The token generation of `generate`, on the model's own type (opened from the existential).
    private func tokens<Model: DecodingModel<Float>>(of model: Model, prompts: [[Int32]], options: SamplingOptions, useAdapter: Bool,
                                                    topLogprobs: Int, padID: Int32, onToken: (Int, Int32) -> Bool) -> [Generation] {
        TokenGenerator(model: model, endOfSequence: endOfSequence, padID: padID, matrixPrecision: matrixPrecision)
            .generate(prompts: prompts, options: options, useAdapter: useAdapter, topLogprobs: topLogprobs, onToken: onToken)
    }
}

/// The text of one generated sequence as it grows: decoded without breaking characters, cut at
/// the first stop string, and released only once no stop string can still start in it.
struct StreamedText {
    private var decoder: StreamingDecoder
    private let stopStrings: [String]
    private(set) var text = ""
    private var released = 0
    private var stopped = false

    init(tokenizer: BPETokenizer, stopStrings: [String]) {
        decoder = StreamingDecoder(tokenizer: tokenizer, skipSpecial: true)
        self.stopStrings = stopStrings
    }

    /// Adds a token; returns the text that may now be shown, and whether a stop string appeared.
    mutating func append(_ id: Int) -> (piece: String, stopped: Bool) {
        guard !stopped else { return ("", true) }
        text += decoder.append(id)
        if let cut = stopStrings.compactMap({ text.range(of: $0)?.lowerBound }).min() {
            text = String(text[..<cut])
            stopped = true
            return (release(upTo: text.count), true)
        }
        return (release(upTo: text.count - heldBack()), false)
    }

    /// Everything not yet released (the decoder's last bytes included), once the sequence ends.
    mutating func finish() -> String {
        if !stopped { text += decoder.finish() }
        return release(upTo: text.count)
    }

    /// Characters at the end of the text that could be the start of a stop string.
    private func heldBack() -> Int {
        var longest = 0
        for stop in stopStrings {
            for length in stride(from: min(stop.count - 1, text.count), to: longest, by: -1)
            where text.hasSuffix(stop.prefix(length)) {
                longest = length
                break
            }
        }
        return longest
    }

    private mutating func release(upTo end: Int) -> String {
        guard end > released else { return "" }
        let piece = String(text.dropFirst(released).prefix(end - released))
        released = end
        return piece
    }
}
