/// Turns ids into text as they are generated. A CJK character or an emoji spans several
/// byte-level tokens; the decoder holds back the bytes of a character until it is complete, so
/// every piece it returns is whole text and the pieces join to `decode(allIds)`.
public struct StreamingDecoder {
    private let tokenizer: BPETokenizer
    private let skipSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: BPETokenizer, skipSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// The text that `id` completes; empty while a character is still incomplete.
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, skipSpecial: skipSpecial, to: &pending)
        let complete = pending.count - Self.incompleteSuffixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is held back, with an unfinished character as U+FFFD; the decoder is then empty.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// How many trailing bytes are the start of a UTF-8 sequence that more bytes could still
    /// complete. Bytes that can never become valid are not held: they decode as U+FFFD at once.
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        // A sequence is at most 4 bytes, so only the last 3 can be an unfinished one.
        var length = 1
        while length <= min(3, bytes.count) {
            let lead = bytes[bytes.count - length]
            if lead & 0xC0 != 0x80 {
                let needed = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 && lead < 0xF0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 0
                guard needed > length, isValidPrefix(bytes[(bytes.count - length)...]) else { return 0 }
                return length
            }
            length += 1
        }
        return 0
    }

    /// Whether the bytes begin a valid sequence: the second byte's range depends on the lead
    /// (no overlong forms, no surrogates, nothing above U+10FFFF).
    private static func isValidPrefix(_ bytes: ArraySlice<UInt8>) -> Bool {
        let lead = bytes[bytes.startIndex]
        var index = bytes.startIndex + 1
        guard index < bytes.endIndex else { return true }
        let second = bytes[index]
        let secondRange: ClosedRange<UInt8> = switch lead {
        case 0xE0: 0xA0...0xBF
        case 0xED: 0x80...0x9F
        case 0xF0: 0x90...0xBF
        case 0xF4: 0x80...0x8F
        default: 0x80...0xBF
        }
        guard secondRange.contains(second) else { return false }
        index += 1
        while index < bytes.endIndex {
            guard bytes[index] & 0xC0 == 0x80 else { return false }
            index += 1
        }
        return true
    }
}
