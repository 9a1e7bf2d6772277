/// BPE merges keyed by the pair of token ids they join: (left, right) → (rank, merged id).
/// Open addressing over packed 64-bit keys; a lookup is one multiply and, nearly always, one
/// probe.
struct MergeTable: Sendable {
    /// key = left << 32 | right; value = rank << 32 | merged id. A key of all ones marks an empty
    /// slot (no token id reaches 2^32 - 1).
    private var keys: [UInt64]
    private var values: [UInt64]
    private let shift: UInt64

    static let empty: UInt64 = .max

    init(capacityFor count: Int) {
        var bits: UInt64 = 4
        while (1 << bits) < count * 2 { bits += 1 }
        keys = [UInt64](repeating: Self.empty, count: 1 << bits)
        values = [UInt64](repeating: 0, count: 1 << bits)
        shift = 64 - bits
    }

    /// Adds or replaces a merge. A pair listed twice keeps its later rank, as the reference
    /// implementation's map does.
    mutating func set(left: UInt32, right: UInt32, rank: UInt32, merged: UInt32) {
        let key = UInt64(left) << 32 | UInt64(right)
        let mask = keys.count - 1
        var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while keys[slot] != Self.empty && keys[slot] != key { slot = (slot + 1) & mask }
        keys[slot] = key
        values[slot] = UInt64(rank) << 32 | UInt64(merged)
    }

    /// rank << 32 | merged id, or nil when the pair does not merge.
    @inline(__always)
    func lookup(left: UInt32, right: UInt32) -> UInt64? {
        let key = UInt64(left) << 32 | UInt64(right)
        return keys.withUnsafeBufferPointer { keys in
            let mask = keys.count - 1
            var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while true {
                let stored = keys[slot]
                if stored == key { return values.withUnsafeBufferPointer { $0[slot] } }
                if stored == Self.empty { return nil }
                slot = (slot + 1) & mask
            }
        }
    }

    /// Every merge as (left, right, merged), in rank order.
    func merges() -> [(left: UInt32, right: UInt32, merged: UInt32)] {
        var ranked: [(rank: UInt32, left: UInt32, right: UInt32, merged: UInt32)] = []
        for slot in 0..<keys.count where keys[slot] != Self.empty {
            ranked.append((UInt32(values[slot] >> 32), UInt32(keys[slot] >> 32),
                           UInt32(truncatingIfNeeded: keys[slot]), UInt32(truncatingIfNeeded: values[slot])))
        }
        return ranked.sorted { $0.rank < $1.rank }.map { ($0.left, $0.right, $0.merged) }
    }
}
