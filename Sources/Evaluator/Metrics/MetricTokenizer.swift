/// Splits text into the units that ROUGE-L counts, for Chinese, English and mixed text alike.
///
/// Every CJK ideograph, kana or hangul syllable is a token of its own (Chinese has no spaces, and
/// character-level ROUGE is the usual choice for it). Other runs of letters and digits (Unicode
/// categories L* and N*) are words, lower-cased. Everything else (spaces, punctuation, symbols)
/// only separates tokens. For ASCII text this is exactly rouge-score's default tokeniser without
/// stemming.
public enum MetricTokenizer {
    public static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var word = String.UnicodeScalarView()
        func flushWord() {
            if !word.isEmpty {
                tokens.append(String(word).lowercased())
                word = String.UnicodeScalarView()
            }
        }
        for scalar in text.unicodeScalars {
            if isCJK(scalar) {
                flushWord()
                tokens.append(String(scalar))
            } else if isLetterOrNumber(scalar) {
                word.append(scalar)
            } else {
                flushWord()
            }
        }
        flushWord()
        return tokens
    }

    /// CJK ideographs (with extensions A–F and compatibility ideographs), hiragana, katakana and
    /// hangul syllables.
    public static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x3040...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xAC00...0xD7AF, 0xF900...0xFAFF,
             0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F, 0x2B820...0x2CEAF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    static func isLetterOrNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }
}
