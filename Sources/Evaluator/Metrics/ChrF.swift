/// chrF, character n-gram F-score, exactly as sacrebleu (2.x) computes a sentence score with its
/// defaults: whitespace removed, case kept, character n-grams of orders 1 to 6, beta = 2, no word
/// n-grams, precision and recall averaged over the orders that both sides have, scale 0–100.
/// With several references, the one whose statistics give the best F wins.
public struct ChrF: Sendable {
    public var maxOrder: Int
    public var beta: Double

    public init(maxOrder: Int = 6, beta: Double = 2) {
        precondition((1...6).contains(maxOrder), "chrF orders go from 1 to 6")
        self.maxOrder = maxOrder
        self.beta = beta
    }

    /// Per order: candidate n-grams, reference n-grams, matched n-grams.
    public typealias Statistics = [(candidate: Int, reference: Int, matched: Int)]

    public func score(candidate: String, reference: String) -> Double {
        score(candidate: candidate, references: [reference])
    }

    public func score(candidate: String, references: [String]) -> Double {
        fScore(statistics(candidate: candidate, references: references))
    }

    /// The statistics of the best reference, for corpus scores (which sum them over sentences).
    public func statistics(candidate: String, references: [String]) -> Statistics {
        let candidateGrams = ngramCounts(candidate)
        var best: Statistics = []
        var bestF = -1.0
        for reference in references {
            let referenceGrams = ngramCounts(reference)
            let stats: Statistics = (0..<maxOrder).map { order in
                let hyp = candidateGrams[order], ref = referenceGrams[order]
                var matched = 0, hypCount = 0
                for (gram, count) in hyp {
                    hypCount += count
                    if let r = ref[gram] { matched += min(count, r) }
                }
                // sacrebleu counts no candidate n-grams of an order the reference lacks.
                return (ref.isEmpty ? 0 : hypCount, ref.values.reduce(0, +), matched)
            }
            let f = fScore(stats)
            if f > bestF {
                bestF = f
                best = stats
            }
        }
        return best
    }

    /// chrF of summed statistics (several sentences at once: sacrebleu's corpus score).
    public func corpusScore(_ sentences: [Statistics]) -> Double {
        guard var total = sentences.first else { return 0 }
        for stats in sentences.dropFirst() {
            for i in total.indices {
                total[i].candidate += stats[i].candidate
                total[i].reference += stats[i].reference
                total[i].matched += stats[i].matched
            }
        }
        return fScore(total)
    }

    func fScore(_ stats: Statistics) -> Double {
        let factor = beta * beta
        var precision = 0.0, recall = 0.0, orders = 0
        for s in stats where s.candidate > 0 && s.reference > 0 {
            precision += Double(s.matched) / Double(s.candidate)
            recall += Double(s.matched) / Double(s.reference)
            orders += 1
        }
        if orders > 0 {
            precision /= Double(orders)
            recall /= Double(orders)
        }
        guard precision + recall > 0 else { return 0 }
        return 100 * (1 + factor) * precision * recall / (factor * precision + recall)
    }

    /// Counts of every character n-gram, orders 1...maxOrder, over the text without whitespace.
    /// Characters are Unicode scalars, as Python strings index them.
    func ngramCounts(_ text: String) -> [[Gram: Int]] {
        let chars = text.unicodeScalars.filter { !PythonText.isSpace($0) }.map { UInt64($0.value) }
        return (1...maxOrder).map { n in
            var counts: [Gram: Int] = [:]
            guard chars.count >= n else { return counts }
            for start in 0...(chars.count - n) {
                counts[Gram(chars[start..<(start + n)]), default: 0] += 1
            }
            return counts
        }
    }

    /// Up to six scalars of 21 bits each, packed three to a word (orders are kept in separate
    /// tables, so no length is needed).
    struct Gram: Hashable {
        var low: UInt64 = 0
        var high: UInt64 = 0

        init(_ scalars: ArraySlice<UInt64>) {
            for (i, scalar) in scalars.enumerated() {
                if i < 3 { low |= scalar << UInt64(21 * i) } else { high |= scalar << UInt64(21 * (i - 3)) }
            }
        }
    }
}
