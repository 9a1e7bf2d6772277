import MedtuneCore

/// The token-embedding table, whatever its storage: rows are looked up, never the whole table
/// converted (151,936 × 896 floats would be 545 MB).
public protocol TokenEmbedding: Sendable {
    var vocabulary: Int { get }
    var dim: Int { get }
    /// out[i, :] = table[ids[i], :].
    func lookup<T: Scalar>(_ ids: [Int32], into out: UnsafeMutablePointer<T>)
}

extension DenseMatrix: TokenEmbedding {
    public var vocabulary: Int { outFeatures }
    public var dim: Int { inFeatures }

    public func lookup<T: Scalar>(_ ids: [Int32], into out: UnsafeMutablePointer<T>) {
        let dim = self.dim
        for (i, id) in ids.enumerated() {
            let row = weight.pointer + Int(id) * dim, target = out + i * dim
            for j in 0..<dim { target[j] = T(row[j]) }
        }
    }
}
