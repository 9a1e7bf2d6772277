import MedtuneCore

/// Stored weights are what the transformer's frozen projections are made of.
extension LinearWeight: LinearMap {
    public func forward<T: Scalar>(_ x: UnsafePointer<T>, rows: Int, into y: UnsafeMutablePointer<T>, precision: MatrixPrecision) {
        product(x, rows: rows, into: y, precision: precision)
    }

    public func forwardAdding<T: Scalar>(_ x: UnsafePointer<T>, rows: Int, into y: UnsafeMutablePointer<T>, precision: MatrixPrecision) {
        product(x, rows: rows, into: y, accumulate: true, precision: precision)
    }

    public func backward<T: Scalar>(_ dy: UnsafePointer<T>, rows: Int, accumulatingInto dx: UnsafeMutablePointer<T>, precision: MatrixPrecision) {
        transposedProduct(dy, rows: rows, into: dx, accumulate: true, precision: precision)
    }

    public func rowSplitProduct(of x: UnsafePointer<Float>, rows: Int, precision: MatrixPrecision) -> RowSplitProduct? {
        rowKernels(of: x, rows: rows, precision: precision)
    }
}
