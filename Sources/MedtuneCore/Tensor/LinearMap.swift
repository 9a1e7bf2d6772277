/// A frozen matrix W [outFeatures × inFeatures], applied as a linear layer without a bias.
///
/// The transformer holds every frozen projection through this protocol, whatever the storage
/// (float32, bf16, quantized GGUF blocks): the forward product, and the input gradient that
/// backward needs. Frozen weights get no gradient of their own. `precision` is that of the
/// matrix products (see `Matmul.gemm`).
public protocol LinearMap: Sendable {
    var inFeatures: Int { get }
    var outFeatures: Int { get }
    /// y[rows × out] = x[rows × in] · Wᵀ (y is overwritten).
    func forward<T: Scalar>(_ x: UnsafePointer<T>, rows: Int, into y: UnsafeMutablePointer<T>, precision: MatrixPrecision)
    /// y[rows × out] += x[rows × in] · Wᵀ: the product added straight into y (a residual stream).
    func forwardAdding<T: Scalar>(_ x: UnsafePointer<T>, rows: Int, into y: UnsafeMutablePointer<T>, precision: MatrixPrecision)
    /// dx[rows × in] += dy[rows × out] · W.
    func backward<T: Scalar>(_ dy: UnsafePointer<T>, rows: Int, accumulatingInto dx: UnsafeMutablePointer<T>, precision: MatrixPrecision)
    /// The float32 product by x [rows × in] in `precision`, split by output rows, so that the
    /// products of several matrices with one input can share one parallel region
    /// (`SharedInputProducts`); nil when the matrix has no faster way for `rows` input rows than
    /// `forward`.
    func rowSplitProduct(of x: UnsafePointer<Float>, rows: Int, precision: MatrixPrecision) -> RowSplitProduct?
}

/// What a matrix without kernels of its own for these gets.
extension LinearMap {
    /// The product into a buffer, then added.
    public func forwardAdding<T: Scalar>(_ x: UnsafePointer<T>, rows: Int, into y: UnsafeMutablePointer<T>, precision: MatrixPrecision) {
        let product = Tensor<T>([rows, outFeatures])
        forward(x, rows: rows, into: product.pointer, precision: precision)
        for i in 0..<product.count { y[i] += product[i] }
    }

    /// None: its products take `forward`.
    public func rowSplitProduct(of x: UnsafePointer<Float>, rows: Int, precision: MatrixPrecision) -> RowSplitProduct? { nil }
}

extension LinearMap {
    /// The float32 row-split product (the default precision).
    public func rowSplitProduct(of x: UnsafePointer<Float>, rows: Int) -> RowSplitProduct? {
        rowSplitProduct(of: x, rows: rows, precision: .float32)
    }
}


/// A dense W held in the working precision.
public struct DenseMatrix<Element: Scalar>: LinearMap, @unchecked Sendable {
    public let weight: Tensor<Element>
    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }

    public init(_ weight: Tensor<Element>) {
        precondition(weight.shape.count == 2, "DenseMatrix needs a 2-D weight, got \(weight.shape)")
        self.weight = weight
    }

    public func forward<T: Scalar>(_ x: UnsafePointer<T>, rows: Int, into y: UnsafeMutablePointer<T>, precision: MatrixPrecision) {
        withWeight(as: T.self) { w in
            Matmul.gemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x, b: w, c: y, precision: precision)
        }
    }

    public func backward<T: Scalar>(_ dy: UnsafePointer<T>, rows: Int, accumulatingInto dx: UnsafeMutablePointer<T>, precision: MatrixPrecision) {
        withWeight(as: T.self) { w in
            Matmul.gemm(m: rows, n: inFeatures, k: outFeatures, a: dy, b: w, beta: 1, c: dx, precision: precision)
        }
    }

    /// The weight in precision T: itself when the types agree, a converted copy otherwise.
    private func withWeight<T: Scalar>(as: T.Type, _ body: (UnsafePointer<T>) -> Void) {
        if Element.self == T.self {
            weight.buffer.withMemoryRebound(to: T.self) { body(UnsafePointer($0.baseAddress!)) }
        } else {
            let converted = Tensor<T>(weight.shape)
            for i in 0..<weight.count { converted[i] = T(weight[i]) }
            body(converted.pointer)
        }
    }
}
