import Foundation

/// Remembers the tokens of recently merged words: natural text repeats its words, and a hit
/// costs one hash and one compare instead of a merge run. Bounded: when full it starts over.
struct WordCache {
    private struct Entry {
        var hash: UInt64
        var keyStart: UInt32
        var keyLength: UInt32
        var valueStart: UInt32
        var valueLength: UInt32
    }

    /// Words longer than this are merged every time; they rarely repeat.
    static let maximumWordLength = 128
    private static let maximumEntries = 1 << 15

    private var slots = [Int32](repeating: -1, count: WordCache.maximumEntries * 2)
    private var entries: [Entry] = []
    private var keys: [UInt8] = []
    private var values: [UInt32] = []

    init() {}

    /// Appends the cached tokens of `word` to `output`; false when the word is not cached.
    @inline(__always)
    func append(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, to output: inout [UInt32]) -> Bool {
        guard let index = find(word, hash: hash) else { return false }
        let entry = entries[index]
        values.withUnsafeBufferPointer {
            output.append(contentsOf: $0[Int(entry.valueStart)..<Int(entry.valueStart + entry.valueLength)])
        }
        return true
    }

    mutating func insert(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64, tokens: ArraySlice<UInt32>) {
        if entries.count == Self.maximumEntries { clear() }
        var slot = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        while slots[slot] >= 0 { slot = (slot + 1) & (slots.count - 1) }
        slots[slot] = Int32(entries.count)
        entries.append(Entry(hash: hash, keyStart: UInt32(keys.count), keyLength: UInt32(word.count),
                             valueStart: UInt32(values.count), valueLength: UInt32(tokens.count)))
        keys.append(contentsOf: word)
        values.append(contentsOf: tokens)
    }

    @inline(__always)
    private func find(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int? {
        slots.withUnsafeBufferPointer { slots in
            entries.withUnsafeBufferPointer { entries in
                keys.withUnsafeBufferPointer { keys in
                    let mask = slots.count - 1
                    var slot = Int(truncatingIfNeeded: hash) & mask
                    while true {
                        let index = Int(slots[slot])
                        if index < 0 { return nil }
                        let entry = entries[index]
                        if entry.hash == hash, Int(entry.keyLength) == word.count,
                           memcmp(keys.baseAddress! + Int(entry.keyStart), word.baseAddress!, word.count) == 0 {
                            return index
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    private mutating func clear() {
        for index in slots.indices { slots[index] = -1 }
        entries.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }
}

/// The mutable memory of one encoding: merge scratch and word cache. A tokenizer keeps a few
/// and lends one to each call, so concurrent calls never share one and a single thread keeps
/// its cache warm from call to call.
final class EncodingState {
    var scratch = MergeScratch()
    var cache = WordCache()
}

final class EncodingStatePool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [EncodingState] = []
    private let limit = 16

    func with<R>(_ body: (EncodingState) -> R) -> R {
        lock.lock()
        let state = idle.popLast() ?? EncodingState()
        lock.unlock()
        defer {
            lock.lock()
            if idle.count < limit { idle.append(state) }
            lock.unlock()
        }
        return body(state)
    }
}
