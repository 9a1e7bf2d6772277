/// bert_score's `sent_encode` for BERT models: the sentence stripped of surrounding whitespace,
/// WordPiece ids (special-token text such as "[SEP]" inside it matched as that token, as
/// Hugging Face's tokenizer does), truncated so that with [CLS] and [SEP] around them they fit
/// `maxLength`. An empty sentence is just [CLS] [SEP].
public struct BERTSentenceTokenizer: SentenceTokenizer {
    public let wordPiece: @Sendable (String) -> [Int]
    public let cls: Int
    public let sep: Int
    /// The tokenizer's `model_max_length`, capped by the model's positions.
    public let maxLength: Int

    public init(cls: Int, sep: Int, maxLength: Int, wordPiece: @escaping @Sendable (String) -> [Int]) {
        precondition(maxLength >= 2, "a BERT input holds at least [CLS] and [SEP]")
        self.wordPiece = wordPiece
        self.cls = cls
        self.sep = sep
        self.maxLength = maxLength
    }

    public var zeroWeightIDs: Set<Int> { [cls, sep] }

    public func encode(_ sentence: String) -> [Int] {
        let text = PythonText.strip(sentence)
        if text.isEmpty { return [cls, sep] }
        return [cls] + wordPiece(text).prefix(maxLength - 2) + [sep]
    }
}
