/// GPT-2's byte-level alphabet: every byte gets a printable character, so that a vocabulary of
/// byte strings can be written as text. Printable Latin-1 bytes stand for themselves; the other
/// 68 bytes (controls, space, 0x7F-0xA0, 0xAD) take the characters from U+0100 on, in byte order.
///
/// Vocabularies in `tokenizer.json` and GGUF files are spelled in this alphabet; medtune keeps
/// tokens as raw bytes and converts only when it reads or writes such a file.
public enum ByteLevel {
    /// The character that spells each byte.
    public static let characterForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte each character of the alphabet spells; -1 for characters outside it.
    /// Indexed by scalar value, which never exceeds U+0143.
    static let byteForCharacter: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in characterForByte.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    private static func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The bytes a token spelled in the alphabet stands for, or nil when the text uses a
    /// character outside it (added tokens such as `<｜Assistant｜>` are stored as plain text).
    public static func bytes(spelledAs text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let value = Int(scalar.value)
            guard value < byteForCharacter.count, byteForCharacter[value] >= 0 else { return nil }
            bytes.append(UInt8(byteForCharacter[value]))
        }
        return bytes
    }

    /// The alphabet spelling of raw bytes.
    public static func spelling(of bytes: some Sequence<UInt8>) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(characterForByte[Int(byte)]) }
        return String(text)
    }
}
