import Foundation
import MedtuneCore
import Tokenizers

/// The model behind `--bert`: how it tokenizes a sentence, how it encodes tokens, the name its
/// scores carry, and bert_score's default layer for it, if it has one.
public struct ScoringModel: Sendable {
    public var name: String
    public var tokenizer: SentenceTokenizer
    public var encoder: ContextualEncoder
    public var defaultLayer: Int?

    /// Opens a Hugging Face BERT folder: `config.json`, `model.safetensors` (or shards with their
    /// index), `vocab.txt` or `tokenizer.json`, and `tokenizer_config.json` if present. The name is
    /// the folder's name, as bert_score names a model by its hub id.
    public static func openBERT(_ path: String) throws -> ScoringModel {
        let model = try BERTModel.load(folder: path)
        let config = model.config
        guard let wordPiece = try TokenizerLoader.load(path: path) as? WordPieceTokenizer else {
            throw InputError(file: path, "the tokenizer is not WordPiece, so this is not a BERT tokenizer")
        }
        let maxLength = min(wordPiece.modelMaxLength ?? config.maxPositions, config.maxPositions)
        let tokenizer = BERTSentenceTokenizer(cls: wordPiece.classifierId, sep: wordPiece.separatorId, maxLength: maxLength) {
            wordPiece.encode($0, allowSpecial: true, addSpecialTokens: false)
        }
        let name = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
        return ScoringModel(name: name, tokenizer: tokenizer, encoder: model, defaultLayer: DefaultLayers.layer(forModel: name))
    }
}
