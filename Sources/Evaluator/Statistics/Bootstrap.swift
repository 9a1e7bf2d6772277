import MedtuneCore

/// A mean with its percentile-bootstrap confidence interval.
public struct MeanInterval: Equatable, Sendable, Codable {
    public var mean: Double
    public var low: Double
    public var high: Double
    public var confidence: Double

    public init(mean: Double, low: Double, high: Double, confidence: Double) {
        self.mean = mean
        self.low = low
        self.high = high
        self.confidence = confidence
    }
}

/// Percentile bootstrap of a sample mean: resample the values with replacement `resamples` times,
/// take the mean of each resample, and report the central `confidence` share of those means
/// (quantiles interpolated linearly, as NumPy's `percentile` does, which SciPy's
/// `bootstrap(method="percentile")` uses).
public enum Bootstrap {
    public static func meanInterval(_ values: [Double], confidence: Double = 0.95, resamples: Int = 10_000,
                                    seed: UInt64 = 0) -> MeanInterval {
        let n = values.count
        guard n > 0 else { return MeanInterval(mean: .nan, low: .nan, high: .nan, confidence: confidence) }
        let mean = values.reduce(0, +) / Double(n)
        var rng = SplitMix64(seed: seed)
        var means = [Double](repeating: 0, count: max(resamples, 1))
        values.withUnsafeBufferPointer { v in
            for b in means.indices {
                var sum = 0.0
                for _ in 0..<n { sum += v[Int(rng.next() % UInt64(n))] }
                means[b] = sum / Double(n)
            }
        }
        means.sort()
        let alpha = (1 - confidence) / 2
        return MeanInterval(mean: mean, low: quantile(sorted: means, alpha),
                            high: quantile(sorted: means, 1 - alpha), confidence: confidence)
    }

    /// The `q`-quantile of sorted values with linear interpolation between order statistics.
    static func quantile(sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }
}
