import MedtuneCore

/// Keys and values of every layer for a batch of sequences, so that decoding one more token costs
/// one token's work. Layout per layer: [batch × capacity × kvHeads × headDim].
///
/// The buffers are allocated, not filled: positions are written before they are read, and the
/// pages of positions not reached yet are never touched, so a cache sized for the longest
/// possible answer occupies memory only as far as the answers go.
public final class KVCache<T: Scalar>: @unchecked Sendable {
    public let batch: Int
    public let capacity: Int
    public let kvHeads: Int
    public let headDim: Int
    private let storage: [(keys: UnsafeMutablePointer<T>, values: UnsafeMutablePointer<T>)]
    /// Positions filled so far (the same for every sequence: left padding aligns them).
    public internal(set) var length = 0

    public init(layers: Int, batch: Int, capacity: Int, kvHeads: Int, headDim: Int) {
        self.batch = batch; self.capacity = capacity; self.kvHeads = kvHeads; self.headDim = headDim
        let count = max(batch * capacity * kvHeads * headDim, 1)
        storage = (0..<layers).map { _ in (.allocate(capacity: count), .allocate(capacity: count)) }
    }

    deinit {
        for (keys, values) in storage {
            keys.deallocate()
            values.deallocate()
        }
    }

    /// Layer `layer`'s keys and values, [batch × capacity × kvHeads × headDim]; positions from
    /// `length` on hold nothing yet.
    func keys(_ layer: Int) -> UnsafeMutablePointer<T> { storage[layer].keys }
    func values(_ layer: Int) -> UnsafeMutablePointer<T> { storage[layer].values }

    /// Copies `count` new positions per sequence, given as [batch × count × kvHeads × headDim],
    /// into layer `layer` after the filled ones. `advance(by:)` moves `length` once all layers are written.
    func store(layer: Int, keys newKeys: UnsafePointer<T>, values newValues: UnsafePointer<T>, count: Int) {
        precondition(length + count <= capacity, "KV cache full (\(capacity) positions)")
        let row = kvHeads * headDim
        for b in 0..<batch {
            let target = (b * capacity + length) * row, source = b * count * row
            (keys(layer) + target).initialize(from: newKeys + source, count: count * row)
            (values(layer) + target).initialize(from: newValues + source, count: count * row)
        }
    }

    func advance(by count: Int) { length += count }
}
