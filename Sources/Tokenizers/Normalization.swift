import Foundation

/// Unicode canonical normalization for the normalizers of `tokenizer.json` files. Most text
/// (ASCII, CJK ideographs, kana, full-width forms) is already in the target form; those runs are
/// recognised from their scalars and skip the normalizer.
enum Normalization {
    /// NFC of UTF-8 bytes, or nil when the text is already NFC by the quick check below.
    static func nfc(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard !allScalars(bytes, where: isNFCStable) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        return Array(text.precomposedStringWithCanonicalMapping.utf8)
    }

    /// NFD of a string, unchanged when no scalar can decompose.
    static func nfd(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { !hasNoCanonicalDecomposition($0.value) }) else { return text }
        return text.decomposedStringWithCanonicalMapping
    }

    /// Scalars that are NFC_Quick_Check=Yes with combining class 0: a string made only of them is
    /// in NFC. Conservative: a scalar outside these ranges sends the text through the normalizer.
    @inline(__always)
    private static func isNFCStable(_ value: UInt32) -> Bool {
        value < 0x300 || (0x3000...0x3098).contains(value) || (0x309B...0x30FF).contains(value)
            || (0x4E00...0x9FFF).contains(value) || (0xFF00...0xFFEF).contains(value)
    }

    /// Scalars without a canonical decomposition, by the same conservative ranges.
    @inline(__always)
    private static func hasNoCanonicalDecomposition(_ value: UInt32) -> Bool {
        value < 0xC0 || (0x3000...0x303F).contains(value) || (0x4E00...0x9FFF).contains(value)
            || (0xFF00...0xFFEF).contains(value)
    }

    private static func allScalars(_ bytes: UnsafeBufferPointer<UInt8>, where test: (UInt32) -> Bool) -> Bool {
        var index = 0
        while index < bytes.count {
            if bytes[index] < 0x80 {
                index += 1
                continue
            }
            let (value, length) = decodeScalar(bytes, at: index)
            if !test(value) { return false }
            index += length
        }
        return true
    }
}
