import MedtuneCore

/// Every metric of one candidate against its reference(s).
public struct PairMetrics: Equatable, Sendable, Codable {
    public var bertScore: PRF
    public var rougeL: OverlapScore
    /// 0–100, as sacrebleu reports it.
    public var chrF: Double

    public init(bertScore: PRF, rougeL: OverlapScore, chrF: Double) {
        self.bertScore = bertScore
        self.rougeL = rougeL
        self.chrF = chrF
    }
}

/// The text-overlap metrics beside BERTScore: character-level ROUGE-L and chrF, per pair.
public enum OverlapMetrics {
    public static func score(candidates: [String], references: [[String]]) -> [(rougeL: OverlapScore, chrF: Double)] {
        precondition(candidates.count == references.count)
        var out = [(rougeL: OverlapScore, chrF: Double)](repeating: (.zero, 0), count: candidates.count)
        let chrF = ChrF()
        out.withUnsafeMutableBufferPointer { result in
            Parallel.forEach(candidates.count) { i in
                result[i] = (RougeL.score(candidate: candidates[i], references: references[i]),
                             chrF.score(candidate: candidates[i], references: references[i]))
            }
        }
        return out
    }

    /// BERTScore plus the overlap metrics for every pair.
    public static func combine(bertScores: [PRF], candidates: [String], references: [[String]]) -> [PairMetrics] {
        zip(bertScores, score(candidates: candidates, references: references)).map {
            PairMetrics(bertScore: $0, rougeL: $1.rougeL, chrF: $1.chrF)
        }
    }
}
