import MedtuneCore

/// Paired sign-flip permutation test of a mean difference.
///
/// Under the null hypothesis that the two systems are exchangeable on every question, each
/// per-question difference is as likely to have either sign. The test flips the signs of the
/// differences in every way (exactly, up to `exactLimit` questions; otherwise in `resamples`
/// seeded random ways) and reports the two-sided p-value: twice the smaller one-sided share of
/// flipped means at least as extreme as the observed one, capped at 1. This is what SciPy's
/// `permutation_test(permutation_type="samples", alternative="two-sided")` computes, including its
/// relative tolerance for ties and its +1 correction when sampling.
public enum SignFlipTest {
    public struct Result: Equatable, Sendable, Codable {
        public var pValue: Double
        /// Whether every sign pattern was enumerated (otherwise random sign patterns were drawn).
        public var exact: Bool
        public var permutations: Int
    }

    public static func test(differences: [Double], exactLimit: Int = 20, resamples: Int = 100_000,
                            seed: UInt64 = 0) -> Result {
        let n = differences.count
        guard n > 0 else { return Result(pValue: 1, exact: true, permutations: 1) }
        let observed = differences.reduce(0, +) / Double(n)
        let gamma = abs(Double.ulpOfOne * 100 * observed)
        var atMost = 0, atLeast = 0
        func tally(_ mean: Double) {
            if mean <= observed + gamma { atMost += 1 }
            if mean >= observed - gamma { atLeast += 1 }
        }
        let exact = n <= exactLimit
        let count: Int
        if exact {
            count = 1 << n
            for signs in 0..<count { tally(flippedMean(differences, signs: UInt64(signs))) }
        } else {
            count = resamples
            var rng = SplitMix64(seed: seed)
            var flipped = [Double](repeating: 0, count: n)
            for _ in 0..<resamples {
                var bits: UInt64 = 0
                for i in 0..<n {
                    if i % 64 == 0 { bits = rng.next() }
                    flipped[i] = bits & 1 == 1 ? -differences[i] : differences[i]
                    bits >>= 1
                }
                tally(flipped.reduce(0, +) / Double(n))
            }
        }
        let adjustment = exact ? 0.0 : 1.0
        let pLess = (Double(atMost) + adjustment) / (Double(count) + adjustment)
        let pGreater = (Double(atLeast) + adjustment) / (Double(count) + adjustment)
        return Result(pValue: min(1, 2 * min(pLess, pGreater)), exact: exact, permutations: count)
    }

    /// Mean of the differences with those whose bit is set in `signs` negated, summed in the
    /// original order so that a no-flip pattern reproduces the observed mean bit for bit.
    private static func flippedMean(_ d: [Double], signs: UInt64) -> Double {
        var sum = 0.0
        for i in d.indices { sum += (signs >> UInt64(i)) & 1 == 1 ? -d[i] : d[i] }
        return sum / Double(d.count)
    }
}
