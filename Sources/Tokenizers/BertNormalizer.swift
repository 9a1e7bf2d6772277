/// BERT's text preparation: the BertNormalizer and BertPreTokenizer of `tokenizer.json`, which
/// are also what `BertTokenizer`'s basic tokenizer does.
struct BertNormalizer: Sendable {
    /// Drop NUL, U+FFFD and control characters; turn every whitespace character into a space.
    var cleanText = true
    /// Put spaces around CJK ideographs, so that each becomes a word of its own.
    var handleChineseChars = true
    /// Decompose (NFD) and drop nonspacing marks.
    var stripAccents = true
    var lowercase = true

    /// The normalized text.
    func normalize(_ text: Substring) -> String {
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let kind = CharacterClass.of(value)
            if cleanText {
                if value == 0 || value == 0xFFFD || kind.contains(.control) { continue }
                if kind.contains(.whitespace) {
                    cleaned.append(" ")
                    continue
                }
            }
            if handleChineseChars && Self.isChineseCharacter(value) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var result = String(cleaned)
        if stripAccents {
            var stripped = String.UnicodeScalarView()
            for scalar in Normalization.nfd(result).unicodeScalars
            where !CharacterClass.of(scalar.value).contains(.nonspacingMark) {
                stripped.append(scalar)
            }
            result = String(stripped)
        }
        if lowercase {
            var lowered = String.UnicodeScalarView()
            for scalar in result.unicodeScalars {
                if scalar.value < 0x80 {
                    lowered.append(scalar.value >= 0x41 && scalar.value <= 0x5A ? Unicode.Scalar(scalar.value + 32)! : scalar)
                } else if scalar.properties.changesWhenLowercased {
                    // Per scalar, as the reference does: no context rules such as final sigma.
                    lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                } else {
                    lowered.append(scalar)
                }
            }
            result = String(lowered)
        }
        return result
    }

    /// The CJK Unified Ideographs blocks and their extensions and compatibility forms; not kana
    /// or hangul, which BERT treats as ordinary letters.
    static func isChineseCharacter(_ value: UInt32) -> Bool {
        switch value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    /// BertPreTokenizer: words split at whitespace (dropped) and at punctuation (each mark a
    /// word of its own).
    static func words(_ text: String, _ emit: (Substring) -> Void) {
        let scalars = text.unicodeScalars
        var wordStart = scalars.startIndex
        var index = scalars.startIndex
        while index < scalars.endIndex {
            let kind = CharacterClass.of(scalars[index].value)
            let next = scalars.index(after: index)
            if kind.contains(.whitespace) || kind.contains(.punctuation) {
                if wordStart < index { emit(Substring(scalars[wordStart..<index])) }
                if kind.contains(.punctuation) { emit(Substring(scalars[index..<next])) }
                wordStart = next
            }
            index = next
        }
        if wordStart < scalars.endIndex { emit(Substring(scalars[wordStart...])) }
    }
}
