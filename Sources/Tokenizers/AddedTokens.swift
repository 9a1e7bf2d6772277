/// A token matched whole in the text before the model sees it: the special tokens of a chat
/// format (`<|im_start|>`, `<｜Assistant｜>`, `[CLS]`) and plain added tokens (`<think>`).
public struct AddedToken: Sendable, Equatable {
    public var id: Int
    public var content: String
    /// Special tokens are the ones `allowSpecial: false` turns back into text and
    /// `skipSpecial: true` leaves out of decoded text.
    public var special: Bool
    /// Whitespace before the token is absorbed into the match.
    public var stripLeft: Bool
    /// Whitespace after the token is absorbed into the match.
    public var stripRight: Bool
    /// Matched in normalized text rather than in the raw input.
    public var normalized: Bool

    public init(id: Int, content: String, special: Bool, stripLeft: Bool = false, stripRight: Bool = false,
                normalized: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.stripLeft = stripLeft
        self.stripRight = stripRight
        self.normalized = normalized
    }
}

/// Finds added tokens in text: leftmost match first, and of the tokens matching there the
/// longest, as the reference implementation's Aho-Corasick automaton does.
struct AddedTokenMatcher: Sendable {
    private struct Candidate: Sendable {
        var bytes: [UInt8]
        var token: AddedToken
    }

    /// Candidates by first byte, longest first.
    private var byFirstByte: [[Candidate]] = Array(repeating: [], count: 256)
    private var hasFirstByte = [Bool](repeating: false, count: 256)
    let isEmpty: Bool

    init(_ tokens: [AddedToken]) {
        for token in tokens where !token.content.isEmpty {
            let bytes = Array(token.content.utf8)
            byFirstByte[Int(bytes[0])].append(Candidate(bytes: bytes, token: token))
            hasFirstByte[Int(bytes[0])] = true
        }
        for index in 0..<256 { byFirstByte[index].sort { $0.bytes.count > $1.bytes.count } }
        isEmpty = tokens.allSatisfy { $0.content.isEmpty }
    }

    /// One piece of split text: a run of ordinary text, or a matched token.
    enum Piece {
        case text(Range<Int>)
        case token(AddedToken)
    }

    /// Splits `bytes` into text and matched tokens. When `includeSpecial` is false a special
    /// token's match stays text (and, as in the reference, is not searched again for other tokens).
    func split(_ bytes: UnsafeBufferPointer<UInt8>, includeSpecial: Bool, _ emit: (Piece) -> Void) {
        guard !isEmpty else {
            if !bytes.isEmpty { emit(.text(0..<bytes.count)) }
            return
        }
        var textStart = 0
        var index = 0
        while index < bytes.count {
            guard hasFirstByte[Int(bytes[index])], let match = longestMatch(bytes, at: index) else {
                index += 1
                continue
            }
            if match.token.special && !includeSpecial {
                index += match.bytes.count
                continue
            }
            var matchStart = index
            var matchEnd = index + match.bytes.count
            if match.token.stripLeft {
                while matchStart > textStart, let length = whitespaceLength(endingAt: matchStart, in: bytes) {
                    matchStart -= length
                }
            }
            if match.token.stripRight {
                while matchEnd < bytes.count, let length = whitespaceLength(startingAt: matchEnd, in: bytes) {
                    matchEnd += length
                }
            }
            if matchStart > textStart { emit(.text(textStart..<matchStart)) }
            emit(.token(match.token))
            index = matchEnd
            textStart = matchEnd
        }
        if textStart < bytes.count { emit(.text(textStart..<bytes.count)) }
    }

    @inline(__always)
    private func longestMatch(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Candidate? {
        for candidate in byFirstByte[Int(bytes[index])] {
            let length = candidate.bytes.count
            guard index + length <= bytes.count else { continue }
            var equal = true
            for offset in 1..<max(length, 1) where bytes[index + offset] != candidate.bytes[offset] {
                equal = false
                break
            }
            if equal { return candidate }
        }
        return nil
    }

    private func whitespaceLength(startingAt index: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let (value, length) = decodeScalar(bytes, at: index)
        return CharacterClass.of(value).contains(.whitespace) ? length : nil
    }

    private func whitespaceLength(endingAt index: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var start = index - 1
        while start > 0, bytes[start] & 0xC0 == 0x80 { start -= 1 }
        let (value, length) = decodeScalar(bytes, at: start)
        return CharacterClass.of(value).contains(.whitespace) ? length : nil
    }
}
