/// Row lookup in a [vocabulary × dim] table.
public struct Embedding {
    public var vocabulary: Int, dim: Int

    public init(vocabulary: Int, dim: Int) { self.vocabulary = vocabulary; self.dim = dim }

    /// out[i, :] = table[ids[i], :]. Ids must be in range (tokenizers guarantee it).
    public func forward<T: Scalar>(ids: UnsafeBufferPointer<Int32>, table: UnsafePointer<T>, into out: UnsafeMutablePointer<T>) {
        Parallel.forEach(ids.count, grain: 16) { i in
            let id = Int(ids[i])
            precondition(id >= 0 && id < vocabulary, "token id \(id) outside vocabulary of \(vocabulary)")
            (out + i * dim).update(from: table + id * dim, count: dim)
        }
    }

    /// dTable[ids[i], :] += dOut[i, :]. Columns are split across threads, so repeated ids never race.
    public func backward<T: Scalar>(ids: UnsafeBufferPointer<Int32>, dOut: UnsafePointer<T>, dTable: UnsafeMutablePointer<T>) {
        Parallel.forRanges(dim, grain: 64) { columns in
            for i in 0..<ids.count {
                let row = dTable + Int(ids[i]) * dim, grad = dOut + i * dim
                for j in columns { row[j] += grad[j] }
            }
        }
    }
}
