import MedtuneCore

/// How the next token is chosen. Defaults are HF transformers' `GenerationConfig` defaults
/// except `maxNewTokens`.
public struct SamplingOptions: Codable, Equatable, Sendable {
    /// false: greedy (argmax after the repetition penalty), as HF's do_sample=False.
    public var sample = false
    /// 0 means greedy, as in llama.cpp and mlx-lm.
    public var temperature = 1.0
    /// 0 disables.
    public var topK = 50
    /// 1 disables.
    public var topP = 1.0
    /// 0 disables.
    public var minP = 0.0
    /// 1 disables.
    public var repetitionPenalty = 1.0
    public var seed: UInt64 = 0
    public var maxNewTokens = 256

    public init() {}

    /// Whether the next token is the argmax: sampling is off, or its temperature is 0.
    public var isGreedy: Bool { !sample || temperature == 0 }

    /// Rejects values HF would reject, before any work starts.
    public func validate() throws {
        func bad(_ message: String) -> InputError { InputError(at: "sampling options", message) }
        if !(temperature >= 0) || !temperature.isFinite { throw bad("temperature must be ≥ 0, 0 meaning greedy (got \(temperature))") }
        if topK < 0 { throw bad("top-k must be ≥ 0 (got \(topK))") }
        if !(topP > 0 && topP <= 1) { throw bad("top-p must be in (0, 1] (got \(topP))") }
        if !(minP >= 0 && minP <= 1) { throw bad("min-p must be in [0, 1] (got \(minP))") }
        if !(repetitionPenalty > 0) || !repetitionPenalty.isFinite { throw bad("repetition penalty must be > 0 (got \(repetitionPenalty))") }
        if maxNewTokens < 1 { throw bad("max new tokens must be ≥ 1 (got \(maxNewTokens))") }
    }
}

/// Turns one row of logits into the next token, in HF transformers' order:
/// repetition penalty, then (when sampling) temperature, top-k, top-p, min-p, then a draw from
/// the softmax with a seeded generator; greedy decoding takes the argmax after the penalty.
public struct Sampler: Sendable {
    public var options: SamplingOptions
    private var rng: SplitMix64

    public init(options: SamplingOptions, stream: UInt64 = 0) {
        self.options = options
        rng = SplitMix64(seed: options.seed &+ stream &* 0x9E37_79B9_7F4A_7C15)
    }

    /// Chooses a token. `logits` (vocabulary wide) is modified in place; `history` holds the ids the
    /// repetition penalty applies to (prompt and generated so far).
    public mutating func next(_ logits: UnsafeMutableBufferPointer<Float>, history: Set<Int32>) -> Int32 {
        process(logits, history: history)
        guard !options.isGreedy else { return Int32(Self.argmax(logits)) }
        return Int32(Self.draw(logits, uniform: rng.nextDouble()))
    }

    /// Every adjustment before the choice: the penalty, and when sampling the warpers (removed
    /// tokens become −∞), exactly as HF's logits processors leave the scores.
    public func process(_ logits: UnsafeMutableBufferPointer<Float>, history: Set<Int32>) {
        Self.applyRepetitionPenalty(logits, history: history, penalty: Float(options.repetitionPenalty))
        guard !options.isGreedy else { return }
        if options.temperature != 1 {
            let inverse = Float(1 / options.temperature)
            for i in logits.indices { logits[i] *= inverse }
        }
        if options.topK > 0 { Self.keepTopK(logits, k: options.topK) }
        if options.topP < 1 { Self.keepTopP(logits, p: options.topP) }
        if options.minP > 0 { Self.keepMinP(logits, minP: options.minP) }
    }

    /// HF: divide positive logits by the penalty, multiply negative ones.
    static func applyRepetitionPenalty(_ logits: UnsafeMutableBufferPointer<Float>, history: Set<Int32>, penalty: Float) {
        guard penalty != 1 else { return }
        for id in history where id >= 0 && Int(id) < logits.count {
            let v = logits[Int(id)]
            logits[Int(id)] = v < 0 ? v * penalty : v / penalty
        }
    }

    static func argmax(_ logits: UnsafeMutableBufferPointer<Float>) -> Int {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best
    }

    /// Keeps every logit ≥ the k-th largest (ties kept, as torch.topk thresholding does).
    static func keepTopK(_ logits: UnsafeMutableBufferPointer<Float>, k: Int) {
        guard k < logits.count else { return }
        // The k-th largest through a min-heap of k values: O(V log k) rather than sorting V.
        var heap = Array(logits.prefix(k))
        heap.sort()
        for v in logits.dropFirst(k) where v > heap[0] {
            heap[0] = v
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < k && heap[l] < heap[smallest] { smallest = l }
                if r < k && heap[r] < heap[smallest] { smallest = r }
                if smallest == i { break }
                heap.swapAt(i, smallest)
                i = smallest
            }
        }
        let threshold = heap[0]
        for i in logits.indices where logits[i] < threshold { logits[i] = -.infinity }
    }

    /// Removes the low tail whose cumulative probability is ≤ 1 − p, keeping at least one token.
    static func keepTopP(_ logits: UnsafeMutableBufferPointer<Float>, p: Double) {
        // Removed tokens (−∞) have probability 0 and need no sorting.
        let order = logits.indices.filter { logits[$0] > -.infinity }.sorted { logits[$0] < logits[$1] }
        let probabilities = softmax(logits)
        var cumulative = 0.0
        for (rank, i) in order.enumerated() where rank < order.count - 1 {
            cumulative += probabilities[i]
            if cumulative <= 1 - p { logits[i] = -.infinity } else { break }
        }
    }

    /// Removes tokens whose probability is below minP × the top probability.
    static func keepMinP(_ logits: UnsafeMutableBufferPointer<Float>, minP: Double) {
        let probabilities = softmax(logits)
        let threshold = minP * (probabilities.max() ?? 0)
        let top = argmax(logits)
        for i in logits.indices where probabilities[i] < threshold && i != top { logits[i] = -.infinity }
    }

    /// softmax(logits) in Double; removed tokens (−∞) get probability 0.
    static func softmax(_ logits: UnsafeMutableBufferPointer<Float>) -> [Double] {
        var probabilities = logits.map(Double.init)
        probabilities.withUnsafeMutableBufferPointer { Softmax.exact($0.baseAddress!, count: $0.count) }
        return probabilities
    }

    /// Inverse-CDF draw from softmax(logits) with one uniform number.
    static func draw(_ logits: UnsafeMutableBufferPointer<Float>, uniform: Double) -> Int {
        let probabilities = softmax(logits)
        var cumulative = 0.0
        var last = 0
        for (i, p) in probabilities.enumerated() where p > 0 {
            cumulative += p
            last = i
            if uniform < cumulative { return i }
        }
        return last
    }
}

/// Log-probabilities of the model's own distribution (before any sampling adjustment).
public enum LogProbabilities {
    /// The k most likely tokens of a logits row with their log-probabilities, most likely first.
    public static func top(_ logits: UnsafeBufferPointer<Float>, k: Int) -> [(id: Int32, logprob: Double)] {
        let maximum = Double(logits.max() ?? 0)
        var sum = 0.0
        for v in logits { sum += Double.exp(Double(v) - maximum) }
        let logZ = maximum + Double.log(sum)
        let best = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(k)
        return best.map { (Int32($0), Double(logits[$0]) - logZ) }
    }
}
