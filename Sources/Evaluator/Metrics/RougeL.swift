/// Precision, recall and F-measure of one candidate against its reference(s).
public struct OverlapScore: Equatable, Sendable, Codable {
    public var precision: Double
    public var recall: Double
    public var f: Double

    public init(precision: Double, recall: Double, f: Double) {
        self.precision = precision
        self.recall = recall
        self.f = f
    }

    public static let zero = OverlapScore(precision: 0, recall: 0, f: 0)
}

/// ROUGE-L: the longest common subsequence of candidate and reference tokens (see
/// `MetricTokenizer`), as rouge-score computes it: P = LCS/|candidate|, R = LCS/|reference|,
/// F = 2PR/(P+R), all zero when either side has no tokens. With several references the one with
/// the highest F wins, as in rouge-score's `score_multi`.
public enum RougeL {
    public static func score(candidate: String, reference: String) -> OverlapScore {
        score(candidate: MetricTokenizer.tokens(candidate), reference: MetricTokenizer.tokens(reference))
    }

    public static func score(candidate: String, references: [String]) -> OverlapScore {
        let tokens = MetricTokenizer.tokens(candidate)
        var best: OverlapScore?
        for reference in references {
            let s = score(candidate: tokens, reference: MetricTokenizer.tokens(reference))
            if best == nil || s.f > best!.f { best = s }
        }
        return best ?? .zero
    }

    static func score(candidate: [String], reference: [String]) -> OverlapScore {
        if candidate.isEmpty || reference.isEmpty { return .zero }
        let lcs = Double(lcsLength(candidate, reference))
        let precision = lcs / Double(candidate.count)
        let recall = lcs / Double(reference.count)
        let f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        return OverlapScore(precision: precision, recall: recall, f: f)
    }

    /// Length of the longest common subsequence, in O(|a|·|b|) time and O(|b|) memory.
    static func lcsLength(_ a: [String], _ b: [String]) -> Int {
        // Interning turns string comparisons in the quadratic loop into integer ones.
        var ids: [String: Int] = [:]
        for token in a where ids[token] == nil { ids[token] = ids.count }
        let x = a.map { ids[$0]! }
        let y = b.map { ids[$0] ?? -1 }
        var previous = [Int](repeating: 0, count: y.count + 1)
        var current = previous
        for i in 0..<x.count {
            for j in 0..<y.count {
                current[j + 1] = x[i] == y[j] ? previous[j] + 1 : max(previous[j + 1], current[j])
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}
