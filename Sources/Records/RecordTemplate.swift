import MedtuneCore

/// A text with `{Field}` placeholders, parsed once and rendered for every record.
/// `{{` and `}}` stand for literal braces.
public struct RecordTemplate: Equatable, Sendable {
    enum Part: Equatable, Sendable {
        case literal(String)
        case field(String)
    }

    let parts: [Part]

    public init(_ text: String) throws {
        var parts: [Part] = [], literal = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i], next = text.index(after: i)
            let doubled = next < text.endIndex && text[next] == c
            if (c == "{" || c == "}") && doubled {
                literal.append(c)
                i = text.index(after: next)
            } else if c == "{" {
                guard let close = text[next...].firstIndex(of: "}") else {
                    throw InputError(at: "template", "unclosed '{' in \"\(text.prefix(60))\"")
                }
                let name = String(text[next..<close])
                guard !name.isEmpty, !name.contains("{") else { throw InputError(at: "template", "empty or nested placeholder in \"\(text.prefix(60))\"") }
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                parts.append(.field(name))
                i = text.index(after: close)
            } else if c == "}" {
                throw InputError(at: "template", "unmatched '}' in \"\(text.prefix(60))\" (write }} for a literal brace)")
            } else {
                literal.append(c)
                i = next
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// Placeholder names in order of appearance.
    public var fields: [String] {
        parts.compactMap { if case .field(let name) = $0 { return name } else { return nil } }
    }

    /// The literal text after the last placeholder (nil when the template ends in one): for an
    /// analysis template, the marker that introduces the answer.
    public var trailingText: String? {
        guard case .literal(let text) = parts.last, parts.contains(where: { if case .field = $0 { return true } else { return false } }) else { return nil }
        return text
    }

    /// The text with each placeholder replaced by `value(name)`.
    public func render(_ value: (String) throws -> String) rethrows -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text): out += text
            case .field(let name): out += try value(name)
            }
        }
        return out
    }
}
