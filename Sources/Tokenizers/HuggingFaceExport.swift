import Foundation

extension BPETokenizer {
    /// This tokenizer as a Hugging Face `tokenizer.json` (the Qwen2 layout), so that the
    /// reference library can load exactly what medtune runs: GGUF vocabularies become
    /// comparable, and `medtune bench tokenizer` hands the file to its peer.
    ///
    /// Written directly rather than through JSONSerialization, which takes seconds to box a
    /// 151k-entry vocabulary.
    public func huggingFaceJSON() -> Data {
        var json = JSONText()
        let byteLevel = #"{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}"#
        json.raw(#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":["#)
        for (index, token) in addedTokens.enumerated() {
            json.raw(index == 0 ? "{" : ",{")
            json.raw(#""id":\#(token.id),"content":"#)
            json.string(token.content)
            json.raw(#","single_word":false,"lstrip":\#(token.stripLeft),"rstrip":\#(token.stripRight),"#)
            json.raw(#""normalized":\#(token.normalized),"special":\#(token.special)}"#)
        }
        json.raw(#"],"normalizer":"#)
        json.raw(normalizer == .nfc ? #"{"type":"NFC"}"# : "null")
        json.raw(#","pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"#)
        json.string(TokenizerJSON.qwen2SplitPattern)
        json.raw(#"},"behavior":"Isolated","invert":false},\#(byteLevel)]},"post_processor":"#)
        writePostProcessor(&json, byteLevel: byteLevel)
        json.raw(#","decoder":\#(byteLevel),"model":{"type":"BPE","dropout":null,"unk_token":null,"#)
        json.raw(#""continuing_subword_prefix":"","end_of_word_suffix":"","fuse_unk":false,"byte_fallback":false,"#)
        json.raw(#""ignore_merges":\#(model.ignoreMerges),"vocab":{"#)
        var written = Set<String>()
        for id in 0..<vocabularySize {
            guard let text = tokenText(id), !text.isEmpty, written.insert(text).inserted else { continue }
            if written.count > 1 { json.raw(",") }
            json.string(text)
            json.raw(":\(id)")
        }
        json.raw(#"},"merges":["#)
        for (index, merge) in model.merges.merges().enumerated() {
            json.raw(index == 0 ? "[" : ",[")
            json.string(tokenText(Int(merge.left)) ?? "")
            json.raw(",")
            json.string(tokenText(Int(merge.right)) ?? "")
            json.raw("]")
        }
        json.raw("]}}")
        return Data(json.bytes)
    }

    /// BOS/EOS as a TemplateProcessing, or the plain ByteLevel processor when none is added.
    private func writePostProcessor(_ json: inout JSONText, byteLevel: String) {
        let bos = addBos ? specialTokenIds.bos.flatMap(tokenText) : nil
        let eos = addEos ? specialTokenIds.eos.flatMap(tokenText) : nil
        guard bos != nil || eos != nil else { return json.raw(byteLevel) }
        var template = JSONText()
        if let bos { template.special(bos); template.raw(",") }
        template.raw(#"{"Sequence":{"id":"A","type_id":0}}"#)
        if let eos { template.raw(","); template.special(eos) }
        json.raw(#"{"type":"TemplateProcessing","single":["#)
        json.bytes += template.bytes
        json.raw(#"],"pair":["#)
        json.bytes += template.bytes
        json.raw(#"],"special_tokens":{"#)
        for (index, (token, id)) in [(bos, specialTokenIds.bos), (eos, specialTokenIds.eos)].compactMap({ pair in
            pair.0.flatMap { token in pair.1.map { (token, $0) } }
        }).enumerated() {
            if index > 0 { json.raw(",") }
            json.string(token)
            json.raw(#":{"id":"#)
            json.string(token)
            json.raw(#","ids":[\#(id)],"tokens":["#)
            json.string(token)
            json.raw("]}")
        }
        json.raw("}}")
    }
}

/// JSON written by hand: raw fragments and escaped strings.
struct JSONText {
    var bytes: [UInt8] = []

    mutating func raw(_ text: String) { bytes += text.utf8 }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += #"\""#.utf8
            case UInt8(ascii: "\\"): bytes += #"\\"#.utf8
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                bytes += "\\u00\(hex.count == 1 ? "0" : "")\(hex)".utf8
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func special(_ token: String) {
        raw(#"{"SpecialToken":{"id":"#)
        string(token)
        raw(#","type_id":0}}"#)
    }
}
