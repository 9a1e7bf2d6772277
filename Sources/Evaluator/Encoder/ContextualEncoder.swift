import MedtuneCore

/// Hidden states of several token sequences stored back to back: sequence `i` owns rows
/// `offsets[i]..<offsets[i+1]` of a `[totalTokens × width]` row-major block. Ragged storage needs
/// no padding, so nothing is computed for positions a sentence does not have.
public struct TokenStates: @unchecked Sendable {
    public let values: Tensor<Float>
    public let offsets: [Int]
    public var width: Int { values.shape.count == 2 ? values.shape[1] : 0 }
    public var sequenceCount: Int { offsets.count - 1 }

    public init(values: Tensor<Float>, offsets: [Int]) {
        precondition(offsets.first == 0 && offsets.last == values.shape.first, "offsets must cover every row")
        self.values = values
        self.offsets = offsets
    }

    public func length(_ sequence: Int) -> Int { offsets[sequence + 1] - offsets[sequence] }
    public func rows(_ sequence: Int) -> UnsafeMutablePointer<Float> { values.pointer + offsets[sequence] * width }
}

/// A model that gives every token of a sequence a contextual vector: BERT for standard BERTScore,
/// a decoder-only language model for the Qwen variant.
public protocol ContextualEncoder: AnyObject, Sendable {
    /// Number of layers; valid `layer` arguments are `0...layerCount` (0 is the embedding output).
    var layerCount: Int { get }
    var hiddenSize: Int { get }
    /// Longest sequence the model accepts.
    var maxSequenceLength: Int { get }
    /// Hidden states after `layer` layers for each sequence.
    func hiddenStates(ids: [[Int]], layer: Int) throws -> TokenStates
}

/// Turns a sentence into the token ids its encoder scores, the way bert_score's `sent_encode` does
/// for that model family (special tokens added, truncated to the model's length).
public protocol SentenceTokenizer: Sendable {
    func encode(_ sentence: String) -> [Int]
    /// Tokens that carry no weight when idf weighting is off ([CLS] and [SEP] for BERT).
    var zeroWeightIDs: Set<Int> { get }
}
