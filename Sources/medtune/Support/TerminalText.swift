import Foundation

/// Text laid out for a terminal: display widths (CJK characters take two cells), wrapping, colour.
enum TerminalText {
    static var isTerminal: Bool { isatty(STDOUT_FILENO) != 0 }

    /// Columns of the terminal, or `COLUMNS`, or 100.
    static var width: Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 100
    }

    /// Cells a character occupies: 2 for East Asian wide and full-width characters, 0 for
    /// combining marks, 1 otherwise.
    static func cells(_ c: Character) -> Int {
        guard let scalar = c.unicodeScalars.first else { return 0 }
        let v = scalar.value
        if scalar.properties.generalCategory == .nonspacingMark { return 0 }
        let wide: [ClosedRange<UInt32>] = [0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF,
                                           0x4E00...0x9FFF, 0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF,
                                           0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F,
                                           0x1F900...0x1F9FF, 0x20000...0x3FFFD]
        return wide.contains { $0.contains(v) } ? 2 : 1
    }

    static func cells(_ s: String) -> Int { s.reduce(0) { $0 + cells($1) } }

    /// Lines of at most `width` cells; existing line breaks are kept.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = "", used = 0
            for c in paragraph {
                let w = cells(c)
                if used + w > width {
                    lines.append(line)
                    line = ""; used = 0
                }
                line.append(c); used += w
            }
            lines.append(line)
        }
        return lines
    }

    static func pad(_ s: String, to width: Int) -> String { s + String(repeating: " ", count: max(0, width - cells(s))) }

    enum Style: String {
        case bold = "1", dim = "2", yellow = "33", green = "32", cyan = "36"
    }

    static func styled(_ s: String, _ style: Style, enabled: Bool) -> String {
        enabled ? "\u{1B}[\(style.rawValue)m\(s)\u{1B}[0m" : s
    }
}
