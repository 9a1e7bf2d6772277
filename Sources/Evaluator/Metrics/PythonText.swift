/// The bits of Python's string semantics that reference metrics depend on, so that medtune
/// splits and strips text exactly where bert_score and sacrebleu do.
enum PythonText {
    /// Python's `str.isspace`: Unicode White_Space plus the information separators U+001C–U+001F.
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        (0x1C...0x1F).contains(scalar.value) || scalar.properties.isWhitespace
    }

    /// Python's `str.strip()` with no arguments.
    static func strip(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[first...last])
    }
}
