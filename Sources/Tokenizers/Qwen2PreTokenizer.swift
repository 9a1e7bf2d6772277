/// The pre-tokenizer of Qwen2 vocabularies (`tokenizer.ggml.pre` = `qwen2` or `deepseek-r1-qwen`;
/// in `tokenizer.json` a Split on the regex below followed by ByteLevel without its own regex):
///
///     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
///
/// Written out as a scanner over UTF-8: at each position the first alternative that matches
/// wins, and the branches below take them in the regex's order. Every scalar falls into one
/// alternative, so the pieces tile the text with no gaps.
enum Qwen2PreTokenizer {
    /// Calls `emit` with the byte range of each piece, in order.
    @inline(__always)
    static func split(_ bytes: UnsafeBufferPointer<UInt8>, _ emit: (Range<Int>) -> Void) {
        let count = bytes.count
        var start = 0
        while start < count {
            let (first, firstLength) = decodeScalar(bytes, at: start)
            let firstClass = CharacterClass.of(first)
            let afterFirst = start + firstLength
            var end: Int
            if first == 0x27, let contraction = contractionEnd(bytes, after: afterFirst) {
                end = contraction
            } else if firstClass.contains(.letter) {
                end = letterRunEnd(bytes, from: afterFirst)
            } else if !firstClass.contains(.number), !firstClass.contains(.lineBreak),
                      afterFirst < count, let second = letterLength(bytes, at: afterFirst) {
                // `[^\r\n\p{L}\p{N}]?\p{L}+` with the optional character present.
                end = letterRunEnd(bytes, from: afterFirst + second)
            } else if firstClass.contains(.number) {
                end = afterFirst
            } else if !firstClass.contains(.whitespace) {
                end = symbolRunEnd(bytes, from: afterFirst)
            } else if first == 0x20, afterFirst < count, isSymbol(bytes, at: afterFirst) {
                end = symbolRunEnd(bytes, from: afterFirst)
            } else {
                end = whitespaceEnd(bytes, from: start)
            }
            emit(start..<end)
            start = end
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` after the apostrophe. Case-insensitive matching folds
    /// U+017F LATIN SMALL LETTER LONG S to `s`.
    @inline(__always)
    private static func contractionEnd(_ bytes: UnsafeBufferPointer<UInt8>, after index: Int) -> Int? {
        guard index < bytes.count else { return nil }
        // `| 0x20` lower-cases ASCII letters; no other byte lands on one.
        switch bytes[index] | 0x20 {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return index + 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return follows(bytes, index + 1, UInt8(ascii: "e")) ? index + 2 : nil
        case UInt8(ascii: "l"):
            return follows(bytes, index + 1, UInt8(ascii: "l")) ? index + 2 : nil
        default:
            if bytes[index] == 0xC5, index + 1 < bytes.count, bytes[index + 1] == 0xBF { return index + 2 }
            return nil
        }
    }

    @inline(__always)
    private static func follows(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ lower: UInt8) -> Bool {
        index < bytes.count && bytes[index] | 0x20 == lower
    }

    /// The byte length of the scalar at `index` if it is a letter.
    @inline(__always)
    private static func letterLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        let (value, length) = decodeScalar(bytes, at: index)
        return CharacterClass.of(value).contains(.letter) ? length : nil
    }

    @inline(__always)
    private static func letterRunEnd(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
        var end = index
        while end < bytes.count, let length = letterLength(bytes, at: end) { end += length }
        return end
    }

    /// `[^\s\p{L}\p{N}]`.
    @inline(__always)
    private static func isSymbol(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        CharacterClass.of(decodeScalar(bytes, at: index).value).isDisjoint(with: [.whitespace, .letter, .number])
    }

    /// `[^\s\p{L}\p{N}]+[\r\n]*` continued from `index`.
    @inline(__always)
    private static func symbolRunEnd(_ bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
        var end = index
        while end < bytes.count {
            let (value, length) = decodeScalar(bytes, at: end)
            guard CharacterClass.of(value).isDisjoint(with: [.whitespace, .letter, .number]) else { break }
            end += length
        }
        while end < bytes.count, bytes[end] == 0x0A || bytes[end] == 0x0D { end += 1 }
        return end
    }

    /// The three whitespace alternatives, for a run that none of the others took:
    /// `\s*[\r\n]+` ends after the run's last line break; `\s+(?!\S)` takes the run to the end of
    /// the text, or all of it but its last scalar (which then leads the next piece); `\s+` takes
    /// a single whitespace scalar followed by something else.
    @inline(__always)
    private static func whitespaceEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var end = start
        var lastScalarStart = start
        var afterLastBreak: Int? = nil
        while end < bytes.count {
            let (value, length) = decodeScalar(bytes, at: end)
            let kind = CharacterClass.of(value)
            guard kind.contains(.whitespace) else { break }
            if kind.contains(.lineBreak) { afterLastBreak = end + length }
            lastScalarStart = end
            end += length
        }
        if let afterLastBreak { return afterLastBreak }
        if end == bytes.count || lastScalarStart == start { return end }
        return lastScalarStart
    }
}
