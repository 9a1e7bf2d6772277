import Foundation

extension BPETokenizer {
    /// This tokenizer as a Hugging Face `tokenizer.json` (the Qwen2 layout), so that the
    /// reference library can load exactly what medtune runs: GGUF vocabularies become
    /// comparable, and `medtune bench tokenizer` hands the file to its peer.
    public func huggingFaceJSON() throws -> Data {
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(vocabularySize)
        for id in 0..<vocabularySize {
            guard let text = tokenText(id), !text.isEmpty, vocab[text] == nil else { continue }
            vocab[text] = id
        }
        let merges = model.merges.merges().map { [tokenText(Int($0.left)) ?? "", tokenText(Int($0.right)) ?? ""] }
        let added: [[String: Any]] = addedTokens.map {
            ["id": $0.id, "content": $0.content, "single_word": false, "lstrip": $0.stripLeft, "rstrip": $0.stripRight,
             "normalized": $0.normalized, "special": $0.special]
        }
        var template: [[String: Any]] = [["Sequence": ["id": "A", "type_id": 0]]]
        var specials: [String: Any] = [:]
        for (add, id, atEnd) in [(addBos, specialTokenIds.bos, false), (addEos, specialTokenIds.eos, true)] {
            guard add, let id, let text = tokenText(id) else { continue }
            let step: [String: Any] = ["SpecialToken": ["id": text, "type_id": 0]]
            if atEnd { template.append(step) } else { template.insert(step, at: 0) }
            specials[text] = ["id": text, "ids": [id], "tokens": [text]]
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false]
        let root: [String: Any] = [
            "version": "1.0",
            "truncation": NSNull(),
            "padding": NSNull(),
            "added_tokens": added,
            "normalizer": normalizer == .nfc ? ["type": "NFC"] as [String: Any] : NSNull(),
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": TokenizerJSON.qwen2SplitPattern], "behavior": "Isolated", "invert": false],
                byteLevel,
            ]] as [String: Any],
            "post_processor": specials.isEmpty ? byteLevel
                : ["type": "TemplateProcessing", "single": template, "pair": template, "special_tokens": specials],
            "decoder": byteLevel,
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false,
                      "ignore_merges": model.ignoreMerges, "vocab": vocab, "merges": merges] as [String: Any],
        ]
        return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
    }
}
