import Foundation

/// Scores of existing candidate/reference pairs, as `medtune score --candidates` reports them.
public struct ScoreReport: Sendable, Codable {
    public struct Row: Sendable, Codable {
        /// 1-based line of the input file.
        public var line: Int
        public var metrics: PairMetrics
    }

    public var hash: String
    public var rows: [Row]
    public var mean: PairMetrics

    public init(hash: String, lines: [Int], metrics: [PairMetrics]) {
        self.hash = hash
        rows = zip(lines, metrics).map { Row(line: $0, metrics: $1) }
        mean = PairMetrics.mean(metrics)
    }

    /// A table with one row per pair (unless `perPair` is off) and the means.
    public func text(perPair: Bool = true) -> String {
        var lines = ["BERTScore \(hash)",
                     pad("line", 6) + pad("P", 9) + pad("R", 9) + pad("F1", 9) + pad("ROUGE-L", 9) + pad("chrF", 8)]
        func row(_ label: String, _ m: PairMetrics) -> String {
            pad(label, 6) + pad(fixed(m.bertScore.precision, 4), 9) + pad(fixed(m.bertScore.recall, 4), 9)
                + pad(fixed(m.bertScore.f1, 4), 9) + pad(fixed(m.rougeL.f, 4), 9) + pad(fixed(m.chrF, 2), 8)
        }
        if perPair { lines += rows.map { row(String($0.line), $0.metrics) } }
        lines.append(row("mean", mean))
        return lines.joined(separator: "\n")
    }

    public func json() throws -> Data { try ReportJSON.encode(self) }
}

extension PairMetrics {
    /// Means of every field over `all`.
    public static func mean(_ all: [PairMetrics]) -> PairMetrics {
        let n = Double(all.count)
        func m(_ f: (PairMetrics) -> Double) -> Double { all.map(f).reduce(0, +) / n }
        return PairMetrics(
            bertScore: PRF(precision: m { $0.bertScore.precision }, recall: m { $0.bertScore.recall }, f1: m { $0.bertScore.f1 }),
            rougeL: OverlapScore(precision: m { $0.rougeL.precision }, recall: m { $0.rougeL.recall }, f: m { $0.rougeL.f }),
            chrF: m { $0.chrF })
    }
}

/// JSON as medtune writes reports: sorted keys, indented, NaN spelled "NaN".
enum ReportJSON {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try encoder.encode(value)
    }
}

func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

/// Right-aligned in `width` columns, counting CJK characters as two.
func pad(_ text: String, _ width: Int) -> String {
    let used = text.unicodeScalars.reduce(0) { $0 + (MetricTokenizer.isCJK($1) ? 2 : 1) }
    return String(repeating: " ", count: max(0, width - used)) + text
}
