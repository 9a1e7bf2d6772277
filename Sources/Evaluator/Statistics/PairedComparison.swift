import Foundation

/// Whether a tuned system's per-question scores differ from a base system's by more than chance:
/// both means with bootstrap intervals, the mean difference with its own (paired) interval, how
/// many questions improved, and the sign-flip permutation p-value.
public struct PairedComparison: Equatable, Sendable, Codable {
    public var base: MeanInterval
    public var tuned: MeanInterval
    public var difference: MeanInterval
    public var improved: Int
    public var worsened: Int
    public var tied: Int
    public var test: SignFlipTest.Result

    public var count: Int { improved + worsened + tied }
    public var fractionImproved: Double { count == 0 ? 0 : Double(improved) / Double(count) }

    /// `base[i]` and `tuned[i]` score the same question.
    public init(base: [Double], tuned: [Double], confidence: Double = 0.95, resamples: Int = 10_000, seed: UInt64 = 0) {
        precondition(base.count == tuned.count, "paired scores need equal counts")
        let differences = zip(tuned, base).map { $0 - $1 }
        self.base = Bootstrap.meanInterval(base, confidence: confidence, resamples: resamples, seed: seed)
        self.tuned = Bootstrap.meanInterval(tuned, confidence: confidence, resamples: resamples, seed: seed &+ 1)
        self.difference = Bootstrap.meanInterval(differences, confidence: confidence, resamples: resamples, seed: seed &+ 2)
        improved = differences.filter { $0 > 0 }.count
        worsened = differences.filter { $0 < 0 }.count
        tied = differences.count - improved - worsened
        test = SignFlipTest.test(differences: differences, seed: seed &+ 3)
    }

    /// One sentence for a reader: is the difference distinguishable from noise at `level`?
    public func verdict(level: Double = 0.05) -> String {
        let direction = difference.mean > 0 ? "higher" : "lower"
        if count < 6 {
            return "too few questions (\(count)) for any difference to be significant; use at least 6, better 30+"
        }
        if test.pValue < level {
            return String(format: "the tuned model scores %@ (p = %.3g < %.2g): unlikely to be chance", direction, test.pValue, level)
        }
        return String(format: "no significant difference (p = %.3g ≥ %.2g): the gap is within what chance gives", test.pValue, level)
    }
}
