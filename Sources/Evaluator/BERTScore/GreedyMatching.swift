import MedtuneCore

/// Precision, recall and F1 of one candidate against one reference.
public struct PRF: Equatable, Sendable, Codable {
    public var precision: Double
    public var recall: Double
    public var f1: Double

    public init(precision: Double, recall: Double, f1: Double) {
        self.precision = precision
        self.recall = recall
        self.f1 = f1
    }
}

/// BERTScore's core: greedy cosine matching of candidate tokens to reference tokens, as bert_score's
/// `greedy_cos_idf` computes it.
///
/// Every candidate token is matched to its most similar reference token (precision) and every
/// reference token to its most similar candidate token (recall); the similarities are averaged
/// with the idf weights normalised to sum to 1, and F1 = 2PR/(P+R).
///
/// bert_score computes this on padded batches and zeroes padded positions of the similarity
/// matrix before taking maxima, so when the other sentence of a pair was padded in its batch, a
/// token whose best real similarity is negative scores 0 instead. `referencePadded` and
/// `candidatePadded` reproduce that.
public enum GreedyMatching {
    /// One sentence of a pair: its token vectors (`[weights.count × d]`, rows of unit length), their
    /// weights, whether bert_score padded it in its batch, and whether it is empty (nothing but
    /// special tokens), which bert_score scores 0.
    public struct Side {
        public var vectors: UnsafePointer<Float>
        public var weights: [Double]
        public var padded: Bool
        public var empty: Bool

        public init(vectors: UnsafePointer<Float>, weights: [Double], padded: Bool, empty: Bool) {
            self.vectors = vectors
            self.weights = weights
            self.padded = padded
            self.empty = empty
        }
    }

    /// `scratch` holds at least `candidate.weights.count × reference.weights.count` floats.
    public static func score(candidate: Side, reference: Side, dimension d: Int, scratch: UnsafeMutablePointer<Float>) -> PRF {
        let m = candidate.weights.count, n = reference.weights.count
        Matmul.gemm(transB: true, m: m, n: n, k: d, a: candidate.vectors, lda: d, b: reference.vectors, ldb: d,
                    c: scratch, ldc: n)
        var precision = 0.0, candidateTotal = 0.0
        for i in 0..<m {
            var best: Float = reference.padded ? 0 : -.infinity
            for j in 0..<n { best = max(best, scratch[i * n + j]) }
            precision += candidate.weights[i] * Double(best)
            candidateTotal += candidate.weights[i]
        }
        var recall = 0.0, referenceTotal = 0.0
        for j in 0..<n {
            var best: Float = candidate.padded ? 0 : -.infinity
            for i in 0..<m { best = max(best, scratch[i * n + j]) }
            recall += reference.weights[j] * Double(best)
            referenceTotal += reference.weights[j]
        }
        // Weights that sum to 0 divide 0 by 0 in bert_score, giving NaN; kept, as it does. F1 is
        // taken before empty sentences are zeroed, again as bert_score does.
        precision /= candidateTotal
        recall /= referenceTotal
        let f = f1(precision, recall)
        if candidate.empty || reference.empty { return PRF(precision: 0, recall: 0, f1: f) }
        return PRF(precision: precision, recall: recall, f1: f)
    }

    /// 2PR/(P+R), with bert_score's rule that an undefined F1 (NaN) is reported as 0.
    static func f1(_ p: Double, _ r: Double) -> Double {
        let f = 2 * p * r / (p + r)
        return f.isNaN ? 0 : f
    }

    /// Scales each row of `[rows × d]` to unit length.
    public static func normalizeRows(_ x: UnsafeMutablePointer<Float>, rows: Int, dimension d: Int) {
        Parallel.forRanges(rows, grain: 64) { range in
            for r in range {
                let row = x + r * d
                var sum: Float = 0
                for k in 0..<d { sum += row[k] * row[k] }
                let inverse = 1 / sum.squareRoot()
                for k in 0..<d { row[k] *= inverse }
            }
        }
    }
}
