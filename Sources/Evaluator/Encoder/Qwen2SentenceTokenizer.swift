/// Sentences for the Qwen2 encoder: stripped like bert_score strips them, byte-level BPE ids
/// (special-token text treated as plain text), behind one `<|endoftext|>`.
///
/// A causal model piles attention onto its first position, whose state is then an outlier shared
/// by every sentence; the leading `<|endoftext|>` takes that role and, like BERT's [CLS], carries
/// no weight. Sentences are cut at 512 tokens, BERT's limit, which bounds the cost of a pair.
public struct Qwen2SentenceTokenizer: SentenceTokenizer {
    public static let sinkToken = "<|endoftext|>"
    public static let maxLength = 512

    public let bpe: @Sendable (String) -> [Int]
    public let sink: Int
    public let maxLength: Int

    public init(sink: Int, maxLength: Int, bpe: @escaping @Sendable (String) -> [Int]) {
        precondition(maxLength >= 1, "room for the leading token is needed")
        self.bpe = bpe
        self.sink = sink
        self.maxLength = maxLength
    }

    public var zeroWeightIDs: Set<Int> { [sink] }

    public func encode(_ sentence: String) -> [Int] {
        let text = PythonText.strip(sentence)
        if text.isEmpty { return [sink] }
        return [sink] + bpe(text).prefix(maxLength - 1)
    }
}
