import Foundation
import MedtuneCore
import ModelFiles

/// Opens the tokenizer of a model, whatever form it comes in.
public enum TokenizerLoader {
    /// `path` is a Hugging Face folder (its `tokenizer.json`, else its `vocab.txt`, with
    /// `tokenizer_config.json` when present), one of those files directly, or a `.gguf` file.
    public static func load(path: String) throws -> any Tokenizer {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw InputError(file: path, "no such file or folder")
        }
        if isDirectory.boolValue {
            let config = try TokenizerConfig.read(in: url)
            let json = url.appendingPathComponent("tokenizer.json")
            if FileManager.default.fileExists(atPath: json.path) { return try TokenizerJSON.load(json, config: config) }
            let vocab = url.appendingPathComponent("vocab.txt")
            if FileManager.default.fileExists(atPath: vocab.path) { return try VocabularyFile.wordPiece(vocab, config: config) }
            throw InputError(file: path, "the folder has neither tokenizer.json nor vocab.txt")
        }
        let folder = url.deletingLastPathComponent()
        switch url.pathExtension.lowercased() {
        case "json":
            return try TokenizerJSON.load(url, config: TokenizerConfig.read(in: folder))
        case "txt":
            return try VocabularyFile.wordPiece(url, config: TokenizerConfig.read(in: folder))
        case "gguf":
            return try BPETokenizer(gguf: GGUFFile(path: path))
        default:
            throw InputError(file: path, "not a tokenizer: expected a folder, tokenizer.json, vocab.txt or .gguf")
        }
    }

    /// The byte-level BPE tokenizer of a language model.
    public static func loadBPE(path: String) throws -> BPETokenizer {
        guard let tokenizer = try load(path: path) as? BPETokenizer else {
            throw InputError(file: path, "expected a byte-level BPE tokenizer, found WordPiece")
        }
        return tokenizer
    }
}
