#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A vocabulary as raw byte strings: id → bytes through one contiguous arena, bytes → id through
/// an open-addressing hash table. No per-token `String` or `Array` objects, so a 151k-token
/// vocabulary costs a few megabytes and lookups never allocate.
struct TokenTable: Sendable {
    private var arena: [UInt8] = []
    private var offsets: [UInt32] = [0]
    /// Slots hold id + 1; 0 marks an empty slot. Capacity is a power of two, at most half full.
    private var slots: [UInt32] = []

    init() {}

    /// A table of the given tokens, in id order. When two tokens have the same bytes, lookups
    /// find the lower id.
    init(_ tokens: some Sequence<[UInt8]>) {
        for token in tokens {
            arena.append(contentsOf: token)
            offsets.append(UInt32(arena.count))
        }
        var capacity = 16
        while capacity < count * 2 { capacity <<= 1 }
        slots = [UInt32](repeating: 0, count: capacity)
        for id in 0..<count { insertLookup(id) }
    }

    var count: Int { offsets.count - 1 }

    /// The bytes of a token.
    @inline(__always)
    func withBytes<R>(of id: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let start = Int(offsets[id]), end = Int(offsets[id + 1])
        return arena.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<end])) }
    }

    func bytes(of id: Int) -> [UInt8] { withBytes(of: id) { Array($0) } }

    /// The id of the token with exactly these bytes.
    @inline(__always)
    func id(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let mask = slots.count - 1
        return slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBufferPointer { arena in
                offsets.withUnsafeBufferPointer { offsets in
                    var slot = Int(truncatingIfNeeded: Self.hash(bytes)) & mask
                    while true {
                        let entry = slots[slot]
                        if entry == 0 { return nil }
                        let id = Int(entry - 1)
                        let start = Int(offsets[id]), end = Int(offsets[id + 1])
                        if end - start == bytes.count,
                           bytes.count == 0 || memcmp(arena.baseAddress! + start, bytes.baseAddress!, bytes.count) == 0 {
                            return id
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    func id(of bytes: [UInt8]) -> Int? { bytes.withUnsafeBufferPointer { id(of: $0) } }

    private mutating func insertLookup(_ id: Int) {
        if withBytes(of: id, { self.id(of: $0) }) != nil { return }
        let mask = slots.count - 1
        var slot = withBytes(of: id) { Int(truncatingIfNeeded: Self.hash($0)) } & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = UInt32(id + 1)
    }

    /// FNV-1a with a final mix, so that the low bits the table uses depend on every byte.
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x100_0000_01B3 }
        let mixed = (value ^ (value >> 32)) &* 0x9E37_79B9_7F4A_7C15
        return mixed ^ (mixed >> 29)
    }
}
