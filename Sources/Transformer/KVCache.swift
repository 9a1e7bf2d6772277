import MedtuneCore

/// Keys and values of every layer for a batch of sequences, so that decoding one more token costs
/// one token's work. Layout per layer: [batch × capacity × kvHeads × headDim].
public final class KVCache<T: Scalar>: @unchecked Sendable {
    public let batch: Int
    public let capacity: Int
    public let kvHeads: Int
    public let headDim: Int
    public let keys: [Tensor<T>]
    public let values: [Tensor<T>]
    /// Positions filled so far (the same for every sequence: left padding aligns them).
    public internal(set) var length = 0

    public init(layers: Int, batch: Int, capacity: Int, kvHeads: Int, headDim: Int) {
        self.batch = batch; self.capacity = capacity; self.kvHeads = kvHeads; self.headDim = headDim
        keys = (0..<layers).map { _ in Tensor<T>([batch, capacity, kvHeads, headDim]) }
        values = (0..<layers).map { _ in Tensor<T>([batch, capacity, kvHeads, headDim]) }
    }

    /// Copies `count` new positions per sequence, given as [batch × count × kvHeads × headDim],
    /// into layer `layer` after the filled ones. `advance(by:)` moves `length` once all layers are written.
    func store(layer: Int, keys newKeys: UnsafePointer<T>, values newValues: UnsafePointer<T>, count: Int) {
        precondition(length + count <= capacity, "KV cache full (\(capacity) positions)")
        let row = kvHeads * headDim
        for b in 0..<batch {
            let target = (b * capacity + length) * row, source = b * count * row
            (keys[layer].pointer + target).update(from: newKeys + source, count: count * row)
            (values[layer].pointer + target).update(from: newValues + source, count: count * row)
        }
    }

    func advance(by count: Int) { length += count }
}
