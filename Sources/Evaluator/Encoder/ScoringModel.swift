import Foundation
import MedtuneCore
import Tokenizers
import Transformer

/// The model behind `--bert`: how it tokenizes a sentence, how it encodes tokens, the name its
/// scores carry, and bert_score's default layer for it, if it has one.
public struct ScoringModel: Sendable {
    public var name: String
    public var tokenizer: SentenceTokenizer
    public var encoder: ContextualEncoder
    public var defaultLayer: Int?

    /// Opens what `--bert` names: a BERT folder, or a Qwen2 model (GGUF file, or a folder whose
    /// config.json says `model_type: "qwen2"`) for the Qwen variant.
    public static func open(_ path: String) throws -> ScoringModel {
        if path.lowercased().hasSuffix(".gguf") { return try openQwen2(path) }
        let config = URL(fileURLWithPath: path).appendingPathComponent("config.json")
        if let data = try? Data(contentsOf: config),
           let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
           object["model_type"] as? String == "qwen2" {
            return try openQwen2(path)
        }
        return try openBERT(path)
    }

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

    /// Opens a Qwen2 model (GGUF file or Hugging Face folder) as a BERTScore encoder. Its name,
    /// `qwen2:<file or folder name>`, marks the scores as not standard BERTScore; it has no default
    /// layer.
    public static func openQwen2(_ path: String) throws -> ScoringModel {
        let (model, _) = try Qwen2Model<Float>.load(path: path)
        let bpe = try TokenizerLoader.loadBPE(path: path)
        guard let sink = bpe.tokenId(Qwen2SentenceTokenizer.sinkToken) else {
            throw InputError(file: path, "the tokenizer has no \(Qwen2SentenceTokenizer.sinkToken) token")
        }
        let tokenizer = Qwen2SentenceTokenizer(sink: sink, maxLength: Qwen2SentenceTokenizer.maxLength) {
            bpe.encode($0, allowSpecial: false, addSpecialTokens: false)
        }
        var name = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
        if name.lowercased().hasSuffix(".gguf") { name = String(name.dropLast(5)) }
        return ScoringModel(name: "qwen2:" + name, tokenizer: tokenizer,
                            encoder: Qwen2Encoder(model: model, maxSequenceLength: Qwen2SentenceTokenizer.maxLength),
                            defaultLayer: nil)
    }
}
