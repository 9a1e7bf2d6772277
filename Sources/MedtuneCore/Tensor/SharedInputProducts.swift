/// A product by one or a few float32 input rows that can be computed a range of output rows at a
/// time, on the calling thread: what one worker does of a parallel region that several products
/// share (see `SharedInputProducts`). Made by `LinearMap.rowSplitProduct(of:rows:)`.
public protocol RowSplitProduct {
    /// Output rows of the product (the matrix's outFeatures).
    var outFeatures: Int { get }
    /// Output rows in the smallest chunk worth handing to another thread.
    var grain: Int { get }
    /// y[i, r] = row r of W · x[i] (added to y when `accumulate`) for r in `rows` and every input
    /// row i; y is [input rows × outFeatures].
    func compute(rows: Range<Int>, into y: UnsafeMutablePointer<Float>, accumulate: Bool)
}

/// Products of one float32 input by several frozen matrices (a decoding step's q, k and v; gate
/// and up). A decoding step multiplies each token by many small matrices, and a parallel region
/// per matrix would pay a hand-off between threads for each, so when every matrix splits its
/// product by output rows (`LinearMap.rowSplitProduct`) all of them run as one region over all
/// their rows. Otherwise each matrix computes its own product in turn.
public enum SharedInputProducts {
    /// y_i[rows × out_i] = x[rows × in] · W_iᵀ for every (map, output) pair (added to the outputs
    /// when `accumulate`), in `precision`. Every map takes the same input width.
    public static func compute(_ targets: [(map: LinearMap, output: UnsafeMutablePointer<Float>)], of x: UnsafePointer<Float>,
                               rows: Int, accumulate: Bool = false, precision: MatrixPrecision = .float32) {
        guard let first = targets.first?.map, rows > 0 else { return }
        precondition(targets.allSatisfy { $0.map.inFeatures == first.inFeatures }, "shared-input products need one input width")
        let split = targets.compactMap { $0.map.rowSplitProduct(of: x, rows: rows, precision: precision) }
        guard split.count == targets.count else {
            for (map, y) in targets {
                if accumulate {
                    map.forwardAdding(x, rows: rows, into: y, precision: precision)
                } else {
                    map.forward(x, rows: rows, into: y, precision: precision)
                }
            }
            return
        }
        var starts = [0]
        for product in split { starts.append(starts[starts.count - 1] + product.outFeatures) }
        let grain = split.map(\.grain).min() ?? 1
        Parallel.forRangesOnTeam(starts[split.count], grain: grain) { stacked in
            for (i, product) in split.enumerated() {
                let lower = max(stacked.lowerBound, starts[i]), upper = min(stacked.upperBound, starts[i + 1])
                if lower < upper {
                    product.compute(rows: (lower - starts[i])..<(upper - starts[i]), into: targets[i].output, accumulate: accumulate)
                }
            }
        }
    }

    /// ya = x · Aᵀ and yb = x · Bᵀ for two matrices of the same shape, in one parallel region whose
    /// every chunk covers the same rows of both and then calls `combine(rows)`, so that an
    /// elementwise function of the two outputs (a gated activation) runs while they are in cache.
    /// Returns false, having computed nothing, when either matrix has no row-split product for
    /// `rows` input rows; the caller then takes `compute` and applies the function afterwards.
    public static func paired(_ a: LinearMap, _ b: LinearMap, of x: UnsafePointer<Float>, rows: Int,
                              into ya: UnsafeMutablePointer<Float>, _ yb: UnsafeMutablePointer<Float>,
                              precision: MatrixPrecision = .float32, combine: (Range<Int>) -> Void) -> Bool {
        precondition(a.inFeatures == b.inFeatures && a.outFeatures == b.outFeatures,
                     "paired products need one shape, not \(a.outFeatures)×\(a.inFeatures) and \(b.outFeatures)×\(b.inFeatures)")
        guard let first = a.rowSplitProduct(of: x, rows: rows, precision: precision),
              let second = b.rowSplitProduct(of: x, rows: rows, precision: precision) else { return false }
        Parallel.forRangesOnTeam(a.outFeatures, grain: min(first.grain, second.grain)) { range in
            first.compute(rows: range, into: ya, accumulate: false)
            second.compute(rows: range, into: yb, accumulate: false)
            combine(range)
        }
        return true
    }
}
