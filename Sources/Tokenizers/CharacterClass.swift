/// The Unicode facts the pre-tokenizers ask about each scalar, packed in one byte so that the
/// scanners can classify text with a table lookup instead of a property query.
struct CharacterClass: OptionSet, Sendable {
    let rawValue: UInt8

    /// `\p{L}`: general category Lu, Ll, Lt, Lm or Lo.
    static let letter = CharacterClass(rawValue: 1)
    /// `\p{N}`: Nd, Nl or No.
    static let number = CharacterClass(rawValue: 2)
    /// `\s`: the White_Space property.
    static let whitespace = CharacterClass(rawValue: 4)
    /// `[\r\n]`.
    static let lineBreak = CharacterClass(rawValue: 8)
    /// Punctuation as BERT sees it: ASCII punctuation or a P* category.
    static let punctuation = CharacterClass(rawValue: 16)
    /// Cc, Cf, Co or Cs (not Cn) minus tab, LF and CR: what BERT's text cleaning drops.
    static let control = CharacterClass(rawValue: 32)
    /// Mn: what BERT's accent stripping drops after NFD.
    static let nonspacingMark = CharacterClass(rawValue: 64)

    /// The class of any scalar: from the table below U+40000 (which covers every assigned
    /// letter and number of the BMP and the CJK extension planes), computed above it.
    @inline(__always)
    static func of(_ value: UInt32) -> CharacterClass {
        value < tableLimit ? CharacterClass(rawValue: table[Int(value)]) : computed(value)
    }

    private static let tableLimit: UInt32 = 0x40000
    private static let table: [UInt8] = (0..<tableLimit).map { computed($0).rawValue }

    private static func computed(_ value: UInt32) -> CharacterClass {
        guard let scalar = Unicode.Scalar(value) else { return [.control] }  // surrogate code points
        var result: CharacterClass = []
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            result.insert(.punctuation)
        case .control, .format, .privateUse, .surrogate:
            if value != 0x09 && value != 0x0A && value != 0x0D { result.insert(.control) }
        case .nonspacingMark:
            result.insert(.nonspacingMark)
        default:
            break
        }
        if value < 0x80, (0x21...0x2F).contains(value) || (0x3A...0x40).contains(value)
            || (0x5B...0x60).contains(value) || (0x7B...0x7E).contains(value) {
            result.insert(.punctuation)
        }
        if properties.isWhitespace { result.insert(.whitespace) }
        if value == 0x0A || value == 0x0D { result.insert(.lineBreak) }
        return result
    }
}

/// Decodes one scalar from valid UTF-8 (as every Swift string holds), returning its value and
/// byte length.
@inline(__always)
func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (value: UInt32, length: Int) {
    let lead = UInt32(bytes[index])
    if lead < 0x80 { return (lead, 1) }
    if lead < 0xE0 {
        return (((lead & 0x1F) << 6) | (UInt32(bytes[index + 1]) & 0x3F), 2)
    }
    if lead < 0xF0 {
        return (((lead & 0x0F) << 12) | ((UInt32(bytes[index + 1]) & 0x3F) << 6)
                | (UInt32(bytes[index + 2]) & 0x3F), 3)
    }
    return (((lead & 0x07) << 18) | ((UInt32(bytes[index + 1]) & 0x3F) << 12)
            | ((UInt32(bytes[index + 2]) & 0x3F) << 6) | (UInt32(bytes[index + 3]) & 0x3F), 4)
}
