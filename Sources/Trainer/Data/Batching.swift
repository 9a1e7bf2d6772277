import MedtuneCore
import Transformer

/// Examples padded to the longest of them (right padding): attention is causal, so a real token
/// never sees the padding after it, positions count from 0 in every row, and padded positions
/// carry ignored labels.
public struct MicroBatch: Sendable {
    public var tokens: [Int32]
    public var labels: [Int32]
    public var batch: Int
    public var length: Int
    /// Tokens the loss counts.
    public var labelCount: Int
    /// Real (non-padding) tokens.
    public var tokenCount: Int

    public init(_ examples: [TrainingExample], padID: Int32) {
        precondition(!examples.isEmpty, "an empty micro-batch")
        batch = examples.count
        length = examples.map(\.tokens.count).max() ?? 0
        tokens = []; labels = []
        tokens.reserveCapacity(batch * length); labels.reserveCapacity(batch * length)
        for example in examples {
            let padding = length - example.tokens.count
            tokens += example.tokens + Array(repeating: padID, count: padding)
            labels += example.labels + Array(repeating: CrossEntropy.ignoreIndex, count: padding)
        }
        labelCount = examples.reduce(0) { $0 + $1.labelCount }
        tokenCount = examples.reduce(0) { $0 + $1.tokens.count }
    }

    public func pass(dropoutSeed: UInt64?, matrixPrecision: MatrixPrecision) -> ForwardPass {
        ForwardPass(batch: batch, length: length, useAdapter: true, dropoutSeed: dropoutSeed, matrixPrecision: matrixPrecision)
    }
}

/// Which examples each optimiser step sees. Every epoch is a (seeded) permutation of the
/// training examples cut into micro-batches; a step takes `accumulation` consecutive micro-batches
/// (the epoch's last step may take fewer), as HF's Trainer does. The order is a pure function of
/// (seed, epoch), so a resumed run needs only the step number to find its place.
public struct EpochPlan: Equatable, Sendable {
    public let examples: Int
    public let microBatchSize: Int
    public let accumulation: Int
    public let shuffle: Bool
    public let seed: UInt64

    public init(examples: Int, microBatchSize: Int, accumulation: Int, shuffle: Bool, seed: UInt64) {
        precondition(examples > 0 && microBatchSize > 0 && accumulation > 0)
        self.examples = examples; self.microBatchSize = microBatchSize; self.accumulation = accumulation
        self.shuffle = shuffle; self.seed = seed
    }

    public var microBatchesPerEpoch: Int { (examples + microBatchSize - 1) / microBatchSize }
    public var stepsPerEpoch: Int { (microBatchesPerEpoch + accumulation - 1) / accumulation }

    /// The example order of an epoch.
    public func order(epoch: Int) -> [Int] {
        var order = Array(0..<examples)
        if shuffle {
            var rng = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
            order.seededShuffle(using: &rng)
        }
        return order
    }

    /// (epoch, first micro-batch of the epoch) where step `step` (from 0) starts.
    public func position(ofStep step: Int) -> (epoch: Int, microBatch: Int) {
        (step / stepsPerEpoch, (step % stepsPerEpoch) * accumulation)
    }

    /// The example indices of each micro-batch of step `step`, given the epoch's order.
    public func microBatches(ofStep step: Int, order: [Int]) -> [[Int]] {
        let first = position(ofStep: step).microBatch
        return (first..<min(first + accumulation, microBatchesPerEpoch)).map { m in
            Array(order[(m * microBatchSize)..<min((m + 1) * microBatchSize, examples)])
        }
    }
}
