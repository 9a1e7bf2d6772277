/// Softmax cross-entropy over a vocabulary, with ignored labels.
public enum CrossEntropy {
    /// The label value that marks a position as not counted (PyTorch's ignore_index).
    public static let ignoreIndex: Int32 = -100

    /// Loss of each row of logits[rows × vocabulary] against its label; on return the logits hold
    /// gradScale · ∂loss/∂logits (zero for ignored rows). Returns the summed loss (in Double) and
    /// the number of rows counted.
    @discardableResult
    public static func lossAndGradient<T: Scalar>(logits: UnsafeMutablePointer<T>, labels: UnsafePointer<Int32>,
                                                  rows: Int, vocabulary: Int, gradScale: T) -> (loss: Double, count: Int) {
        let losses = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(rows, 1))
        defer { losses.deallocate() }
        Parallel.forEach(rows, grain: 1) { r in
            let row = logits + r * vocabulary
            let label = labels[r]
            if label == ignoreIndex {
                row.update(repeating: 0, count: vocabulary)
                losses[r] = 0
                return
            }
            precondition(label >= 0 && Int(label) < vocabulary, "label \(label) outside vocabulary of \(vocabulary)")
            var maximum = -T.infinity
            for j in 0..<vocabulary { maximum = max(maximum, row[j]) }
            var sum: T = 0
            for j in 0..<vocabulary {
                let e = T.exp(row[j] - maximum)
                row[j] = e
                sum += e
            }
            let p = row[Int(label)] / sum
            losses[r] = -Double(T.log(max(p, T.leastNormalMagnitude)))
            let s = gradScale / sum
            for j in 0..<vocabulary { row[j] *= s }
            row[Int(label)] -= gradScale
        }
        var total = 0.0, count = 0
        for r in 0..<rows where labels[r] != ignoreIndex {
            total += losses[r]
            count += 1
        }
        return (total, count)
    }
}

/// Cross-entropy of hidden states through a language-model head, computed a chunk of rows at a
/// time, so that at most `chunkRows × vocabulary` logits exist at once (151,936 columns for
/// Qwen2: a full 1,024-token batch would otherwise take 620 MB, 256 rows take 155 MB). Rows with
/// ignored labels are skipped before the head is applied. Each chunk reads the whole head twice
/// (forward and input gradient), so chunks much smaller than 256 rows leave those products
/// waiting on memory rather than computing. `precision` is that of the head's matrix products.
public struct ChunkedCrossEntropy {
    public var chunkRows: Int
    public var precision: MatrixPrecision

    public init(chunkRows: Int = 256, precision: MatrixPrecision = .float32) {
        precondition(chunkRows > 0)
        self.chunkRows = chunkRows
        self.precision = precision
    }

    /// hidden: [rows × head.inFeatures]. When dHidden is given, it accumulates gradScale · ∂loss/∂hidden.
    public func callAsFunction<T: Scalar>(hidden: UnsafePointer<T>, rows: Int, head: LinearMap, labels: UnsafePointer<Int32>,
                                          gradScale: T = 1, dHidden: UnsafeMutablePointer<T>?) -> (loss: Double, count: Int) {
        let dim = head.inFeatures, vocabulary = head.outFeatures
        let counted = (0..<rows).filter { labels[$0] != CrossEntropy.ignoreIndex }
        if counted.isEmpty { return (0, 0) }
        let chunk = min(chunkRows, counted.count)
        let x = Tensor<T>([chunk, dim]), logits = Tensor<T>([chunk, vocabulary]), dx = Tensor<T>([chunk, dim])
        var chunkLabels = [Int32](repeating: 0, count: chunk)
        var total = 0.0
        for start in stride(from: 0, to: counted.count, by: chunk) {
            let rowsHere = min(chunk, counted.count - start)
            for i in 0..<rowsHere {
                let r = counted[start + i]
                (x.pointer + i * dim).update(from: hidden + r * dim, count: dim)
                chunkLabels[i] = labels[r]
            }
            head.forward(UnsafePointer(x.pointer), rows: rowsHere, into: logits.pointer, precision: precision)
            let (loss, _) = chunkLabels.withUnsafeBufferPointer {
                CrossEntropy.lossAndGradient(logits: logits.pointer, labels: $0.baseAddress!, rows: rowsHere,
                                             vocabulary: vocabulary, gradScale: gradScale)
            }
            total += loss
            guard let dHidden else { continue }
            dx.pointer.update(repeating: 0, count: rowsHere * dim)
            head.backward(UnsafePointer(logits.pointer), rows: rowsHere, accumulatingInto: dx.pointer, precision: precision)
            for i in 0..<rowsHere {
                let target = dHidden + counted[start + i] * dim, source = dx.pointer + i * dim
                for j in 0..<dim { target[j] += source[j] }
            }
        }
        return (total, counted.count)
    }
}
