/// The settings string bert_score prints with its scores (its `get_hash`), so that a reader can
/// tell which model, layer and weighting produced a number:
/// `<model>_L<layer>_<idf|no-idf>_version=<bert_score version>(<implementation>)[-rescaled|-custom-rescaled]`.
///
/// bert_score writes `(hug_trans=<transformers version>)` as the implementation; medtune writes
/// `(medtune)`. The version is the one bert_score 0.3.13 reports, `0.3.12` (its wheel never updated
/// `__version__`), since medtune computes what that release computes. A baseline given by path is a
/// custom baseline in bert_score's terms. Scores from a non-BERT encoder carry a model name such as
/// `qwen2:<name>`, so they are not mistaken for standard BERTScore.
public struct ScoreHash: Equatable, Sendable {
    public static let bertScoreVersion = "0.3.12"
    public static let implementation = "medtune"

    public var model: String
    public var layer: Int
    public var idf: Bool
    public var rescaled: Bool

    public init(model: String, layer: Int, idf: Bool, rescaled: Bool) {
        self.model = model
        self.layer = layer
        self.idf = idf
        self.rescaled = rescaled
    }

    public var description: String {
        var text = "\(model)_L\(layer)\(idf ? "_idf" : "_no-idf")_version=\(Self.bertScoreVersion)(\(Self.implementation))"
        if rescaled { text += "-custom-rescaled" }
        return text
    }
}
