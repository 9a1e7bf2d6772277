/// Byte-level BPE over raw bytes: a word's bytes start as single-byte tokens and the pair of
/// lowest rank is merged until no pair merges; of equal-rank pairs the leftmost goes first.
/// This is the reference implementation's order (a min-heap on rank, then position).
struct BytePairModel: Sendable {
    let vocabulary: TokenTable
    let merges: MergeTable
    /// The id of the token for each single byte.
    let byteTokens: [UInt32]
    /// When set, a word that is itself in the vocabulary becomes that token without merging.
    let ignoreMerges: Bool

    /// Appends the tokens of one pre-tokenized word.
    func encode(_ word: UnsafeBufferPointer<UInt8>, into output: inout [UInt32], scratch: inout MergeScratch) {
        if word.count == 1 {
            output.append(byteTokens[Int(word[0])])
            return
        }
        if ignoreMerges, let id = vocabulary.id(of: word) {
            output.append(UInt32(id))
            return
        }
        scratch.merge(word, model: self, into: &output)
    }
}

/// The working memory of one merge run, kept between words so that encoding does not allocate.
struct MergeScratch {
    private var ids: [UInt32] = []
    private var previous: [Int32] = []
    private var next: [Int32] = []
    /// Candidate merges packed as rank << 32 | position, ordered as a min-heap.
    private var heap: [UInt64] = []

    init() {}

    mutating func merge(_ word: UnsafeBufferPointer<UInt8>, model: BytePairModel, into output: inout [UInt32]) {
        let count = word.count
        ids.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for index in 0..<count {
            ids.append(model.byteTokens[Int(word[index])])
            previous.append(Int32(index - 1))
            next.append(index + 1 < count ? Int32(index + 1) : -1)
        }
        for index in 0..<(count - 1) {
            if let found = model.merges.lookup(left: ids[index], right: ids[index + 1]) {
                push(found & 0xFFFF_FFFF_0000_0000 | UInt64(index))
            }
        }
        while let top = pop() {
            let position = Int(top & 0xFFFF_FFFF)
            let rank = top >> 32
            // A queued merge is stale once either symbol has changed: check the pair still has it.
            let right = next[position]
            guard ids[position] != .max, right >= 0,
                  let found = model.merges.lookup(left: ids[position], right: ids[Int(right)]),
                  found >> 32 == rank else { continue }
            ids[position] = UInt32(truncatingIfNeeded: found)
            ids[Int(right)] = .max
            let after = next[Int(right)]
            next[position] = after
            if after >= 0 { previous[Int(after)] = Int32(position) }
            let before = previous[position]
            if before >= 0, let merge = model.merges.lookup(left: ids[Int(before)], right: ids[position]) {
                push(merge & 0xFFFF_FFFF_0000_0000 | UInt64(before))
            }
            if after >= 0, let merge = model.merges.lookup(left: ids[position], right: ids[Int(after)]) {
                push(merge & 0xFFFF_FFFF_0000_0000 | UInt64(position))
            }
        }
        var index = 0
        while index >= 0 {
            output.append(ids[index])
            index = Int(next[index])
        }
    }

    private mutating func push(_ value: UInt64) {
        heap.append(value)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[parent] > heap[child] else { break }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func pop() -> UInt64? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { break }
                var smallest = left
                if left + 1 < heap.count, heap[left + 1] < heap[left] { smallest = left + 1 }
                guard heap[smallest] < heap[parent] else { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
