import MedtuneCore

/// A frozen weight matrix W [out × in] (rows are output features), multiplied in whatever type its
/// file stores it: f32, f16, bf16 or a GGML block quantisation.
///
/// The stored bytes stay in the file's mapping and the whole matrix never exists in float32:
/// - one input row (token-by-token decoding): fused decode-and-dot kernels, parallel over rows,
///   reading each stored byte once, so decoding runs at memory bandwidth;
/// - a few input rows (batched decoding, up to `smallBatchLimit`): each pair of weight rows
///   decoded once into L1 and multiplied with four input rows at a time there;
/// - many input rows (prompts, training): blocks of about 4 MB of rows decoded into scratch and
///   multiplied by `Matmul.gemm`. The transposed product of backward passes works the same way.
///
/// By default every path multiplies the float32 activations as they are: quantizing them to 8-bit
/// blocks (llama.cpp's integer dot products) moves the real model's logits by 0.07–0.16 against
/// transformers, where parity asks for 1e-3. `MatrixPrecision.q8` asks for exactly that: the input
/// rows quantized once per product (`Q8Rows`) and every weight row multiplied in integers, for
/// any number of input rows, parallel over weight rows.
///
/// `T` is Float for real work; Double exists for gradient checks and decodes through Float.
public final class LinearWeight: @unchecked Sendable {
    public let tensor: StoredTensor
    public let outFeatures: Int
    public let inFeatures: Int
    private let rowBytes: Int
    private let base: UnsafeRawPointer

    public init(_ tensor: StoredTensor) throws {
        try tensor.requireSupportedType()
        guard tensor.shape.count == 2 else {
            throw tensor.error("a linear weight must have two dimensions, not shape \(tensor.shape)")
        }
        self.tensor = tensor
        outFeatures = tensor.shape[0]
        inFeatures = tensor.shape[1]
        rowBytes = tensor.type.byteCount(elements: inFeatures) ?? 0
        guard rowBytes * outFeatures == tensor.bytes.count, let base = tensor.bytes.baseAddress else {
            throw tensor.error("\(tensor.bytes.count) bytes do not hold \(tensor.shape) \(tensor.type.name) values")
        }
        self.base = base
    }

    public var type: StorageType { tensor.type }
    public var name: String { tensor.name }
    /// [out, in].
    public var shape: [Int] { [outFeatures, inFeatures] }

    /// Rows decoded per block: about 4 MB of float32 scratch (at least 256 rows), so that each
    /// sgemm call is large enough to run near its peak.
    private var blockRows: Int { min(outFeatures, max(256, (1 << 20) / max(inFeatures, 1))) }

    /// Row `r`'s stored bytes.
    @inline(__always)
    private func row(_ r: Int) -> UnsafeRawPointer { base + r * rowBytes }

    /// The stored matrix as float32 in place, when it is f32 and aligned: no decoding needed.
    private var storedFloats: UnsafePointer<Float>? {
        guard type == .f32, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return base.assumingMemoryBound(to: Float.self)
    }

    // MARK: Products

    /// y[n × out] = x[n × in] · Wᵀ (added to y when `accumulate`).
    ///
    /// Float takes the fastest path for its size: fused rows for one input row, each weight row
    /// decoded once and used for every input row up to `smallBatchLimit`, decoded blocks and sgemm
    /// beyond (f32 weights go to sgemm directly). `precision` bfloat16 applies to the products of
    /// many rows (the last two paths), the fused paths of a few rows being float32; q8 applies to
    /// every number of rows of a block-quantized matrix.
    public func product<T: Scalar>(_ x: UnsafePointer<T>, rows n: Int, into y: UnsafeMutablePointer<T>, accumulate: Bool = false,
                                   precision: MatrixPrecision = .float32) {
        guard n > 0, outFeatures > 0 else { return }
        if T.self == Float.self {
            let xf = UnsafeRawPointer(x).assumingMemoryBound(to: Float.self)
            let yf = UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self)
            if precision == .q8, q8Block != nil {
                return SharedInputProducts.compute([(self, yf)], of: xf, rows: n, accumulate: accumulate, precision: .q8)
            }
            if n == 1 { return vectorProduct(xf, into: yf, accumulate: accumulate) }
            if let w = storedFloats {
                return Matmul.gemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: xf, b: w, beta: accumulate ? 1 : 0, c: yf,
                                   precision: precision)
            }
            if n <= Self.smallBatchLimit { return smallBatchProduct(xf, rows: n, into: yf, accumulate: accumulate) }
        }
        blockedProduct(x, rows: n, into: y, accumulate: accumulate, precision: precision)
    }

    /// `product` through decoded blocks of rows and `Matmul.gemm`.
    func blockedProduct<T: Scalar>(_ x: UnsafePointer<T>, rows n: Int, into y: UnsafeMutablePointer<T>, accumulate: Bool,
                                   precision: MatrixPrecision) {
        forEachDecodedBlock(T.self) { rows, block in
            Matmul.gemm(transB: true, m: n, n: rows.count, k: inFeatures, a: x, b: block, ldb: inFeatures,
                        beta: accumulate ? 1 : 0, c: y + rows.lowerBound, ldc: outFeatures, precision: precision)
        }
    }

    /// dx[n × in] = dy[n × out] · W (added to dx when `accumulate`): the input gradient of `product`.
    public func transposedProduct<T: Scalar>(_ dy: UnsafePointer<T>, rows n: Int, into dx: UnsafeMutablePointer<T>, accumulate: Bool = false,
                                             precision: MatrixPrecision = .float32) {
        guard n > 0, inFeatures > 0 else { return }
        if T.self == Float.self, let w = storedFloats {
            Matmul.gemm(m: n, n: inFeatures, k: outFeatures, a: dy,
                        b: UnsafeRawPointer(w).assumingMemoryBound(to: T.self), beta: accumulate ? 1 : 0, c: dx, precision: precision)
            return
        }
        if outFeatures == 0 {
            if !accumulate { dx.update(repeating: 0, count: n * inFeatures) }
            return
        }
        forEachDecodedBlock(T.self) { rows, block in
            let first = rows.lowerBound == 0
            Matmul.gemm(m: n, n: inFeatures, k: rows.count, a: dy + rows.lowerBound, lda: outFeatures,
                        b: block, ldb: inFeatures, beta: first && !accumulate ? 0 : 1, c: dx, precision: precision)
        }
    }

    /// y[out] = W · x (added to y when `accumulate`), each output row decoded and multiplied in one
    /// pass, in parallel over rows.
    public func vectorProduct(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        SharedInputProducts.compute([(self, y)], of: x, rows: 1, accumulate: accumulate)
    }

    /// y[r] = row r · x for `rows`, on the calling thread.
    func vectorProduct(_ input: FloatInput, rows: Range<Int>, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        RowCodec.dots(type, rows: rows, of: base, rowBytes: rowBytes, input, count: inFeatures) { r, value in
            y[r] = accumulate ? y[r] + value : value
        }
    }

    /// Rows per parallel chunk of a product by a few input rows: about 64 KB of stored weights,
    /// enough work to outweigh handing the chunk to another thread while leaving several chunks
    /// per thread even for a 128-row projection.
    private var chunkRows: Int { max(1, (1 << 16) / max(rowBytes, 1)) }

    /// Up to this many input rows, `product` decodes each weight row once and multiplies it with
    /// every input row while it is in L1 (weights read once, nothing large written); above it,
    /// decoded blocks and sgemm win.
    public static let smallBatchLimit = 16

    /// y[n × out] = x[n × in] · Wᵀ for a few rows of x, parallel over weight rows: pairs of weight
    /// rows are decoded into an L1 buffer and multiplied with four input rows at a time, so each
    /// loaded weight vector feeds four products and each input vector two.
    func smallBatchProduct(_ x: UnsafePointer<Float>, rows n: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        SharedInputProducts.compute([(self, y)], of: x, rows: n, accumulate: accumulate)
    }

    /// y[i, r] = row r · x[i] for weight rows `rows` and the n input rows, on the calling thread.
    private func smallBatchProduct(_ x: UnsafePointer<Float>, rows n: Int, weightRows rows: Range<Int>,
                                   into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let type = self.type, inFeatures = self.inFeatures, outFeatures = self.outFeatures
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * inFeatures) { buffer in
            let w0 = buffer.baseAddress!, w1 = w0 + inFeatures
            var r = rows.lowerBound
            while r < rows.upperBound {
                let pair = r + 1 < rows.upperBound
                RowCodec.dequantize(type, row(r), into: w0, count: inFeatures)
                if pair { RowCodec.dequantize(type, row(r + 1), into: w1, count: inFeatures) }
                Dot.products(w0, pair ? w1 : nil, x, inputs: n, count: inFeatures) { j, i, value in
                    let target = y + i * outFeatures + r + j
                    target.pointee = accumulate ? target.pointee + value : value
                }
                r += pair ? 2 : 1
            }
        }
    }

    /// Weight rows `rows` of a one- or few-row product, on the calling thread.
    private func rowsProduct(_ input: FloatInput, rows n: Int, weightRows rows: Range<Int>,
                             into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if n == 1 {
            vectorProduct(input, rows: rows, into: y, accumulate: accumulate)
        } else {
            smallBatchProduct(input.x, rows: n, weightRows: rows, into: y, accumulate: accumulate)
        }
    }

    /// The row kernels as `LinearMap.rowSplitProduct`: in q8, the integer kernels for any number
    /// of input rows; otherwise the fused decode-and-dot rows for one input row, the L1 kernel of
    /// `smallBatchProduct` for a few (up to `smallBatchLimit`). f32 weights beyond one row, and
    /// more rows, have none: sgemm serves them faster.
    func rowKernels(of x: UnsafePointer<Float>, rows n: Int, precision: MatrixPrecision) -> RowSplitProduct? {
        if precision == .q8, let block = q8Block {
            return IntegerRowKernels(weight: self, input: Q8Rows(x, rows: n, count: inFeatures, block: block))
        }
        guard n == 1 || (n <= Self.smallBatchLimit && storedFloats == nil) else { return nil }
        return RowKernels(weight: self, x: x, inputRows: n)
    }

    /// The activation block size of this matrix's q8 products; nil when its type has no integer
    /// kernels (float weights), which then multiply in float32.
    private var q8Block: Int? { Q8Rows.blockSize(for: type) }

    /// A q8 product: the input rows quantized once, then each chunk of weight rows multiplied with
    /// each input row in turn while the chunk is in cache.
    struct IntegerRowKernels: RowSplitProduct {
        let weight: LinearWeight
        let input: Q8Rows

        var outFeatures: Int { weight.outFeatures }
        var grain: Int { weight.chunkRows }

        func compute(rows: Range<Int>, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
            for i in 0..<input.rows {
                input.dots(weight.type, weight.row(rows.lowerBound), rowBytes: weight.rowBytes, weightRows: rows.count, input: i,
                           into: y + i * weight.outFeatures + rows.lowerBound, accumulate: accumulate)
            }
        }
    }

    /// A product by one or a few input rows, a range of weight rows at a time.
    struct RowKernels: RowSplitProduct {
        let weight: LinearWeight
        let x: UnsafePointer<Float>
        let inputRows: Int
        /// x's group sums, which the block kernels of one input row read (see `FloatInput`).
        let sums: [Float]

        init(weight: LinearWeight, x: UnsafePointer<Float>, inputRows: Int) {
            self.weight = weight; self.x = x; self.inputRows = inputRows
            let groups = inputRows == 1 && weight.type.isQuantized ? weight.inFeatures / 16 : 0
            sums = [Float](unsafeUninitializedCapacity: max(groups, 1)) { buffer, count in
                buffer[0] = 0
                FloatInput.writeGroupSums(x, groups: groups, into: buffer.baseAddress!)
                count = buffer.count
            }
        }

        var outFeatures: Int { weight.outFeatures }
        var grain: Int { weight.chunkRows }

        func compute(rows: Range<Int>, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
            sums.withUnsafeBufferPointer { sums in
                weight.rowsProduct(FloatInput(x: x, sums: sums.baseAddress!), rows: inputRows, weightRows: rows, into: y, accumulate: accumulate)
            }
        }
    }

    /// The reference path for `vectorProduct`: decode every row, then one BLAS matrix–vector
    /// product. Kept for measuring the fused kernels against.
    func decodedVectorProduct(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: outFeatures * inFeatures)
        defer { scratch.deallocate() }
        decodeRows(0..<outFeatures, into: scratch)
        Matmul.gemv(rows: outFeatures, cols: inFeatures, a: scratch, x: x, y: y)
    }

    // MARK: Decoding

    /// Rows `ids` of W decoded into out [ids.count × in]: an embedding lookup that touches only
    /// the rows it needs.
    public func embeddingRows<T: Scalar>(_ ids: [Int], into out: UnsafeMutablePointer<T>) throws {
        for id in ids where id < 0 || id >= outFeatures {
            throw tensor.error("row \(id) requested from \(outFeatures) rows")
        }
        ids.withUnsafeBufferPointer { ids in
            Parallel.forRanges(ids.count, grain: max(1, 16384 / max(inFeatures, 1))) { range in
                decode(range.map { ids[$0] }, into: out + range.lowerBound * inFeatures)
            }
        }
    }

    /// The whole matrix as float32 [out × in] (for small matrices and tests).
    public func dequantized() -> [Float] {
        var result = [Float](repeating: 0, count: outFeatures * inFeatures)
        result.withUnsafeMutableBufferPointer { buffer in
            if let p = buffer.baseAddress { decodeRows(0..<outFeatures, into: p) }
        }
        return result
    }

    /// Decodes rows `rows` into consecutive rows of `out`, in parallel.
    private func decodeRows<T: Scalar>(_ rows: Range<Int>, into out: UnsafeMutablePointer<T>) {
        Parallel.forRanges(rows.count, grain: max(1, 16384 / max(inFeatures, 1))) { part in
            decode(Array(part.lowerBound + rows.lowerBound..<part.upperBound + rows.lowerBound),
                   into: out + part.lowerBound * inFeatures)
        }
    }

    /// Decodes the listed rows, one after another, into `out` (on the calling thread).
    private func decode<T: Scalar>(_ rows: [Int], into out: UnsafeMutablePointer<T>) {
        if T.self == Float.self {
            let f = UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self)
            for (i, r) in rows.enumerated() {
                RowCodec.dequantize(type, row(r), into: f + i * inFeatures, count: inFeatures)
            }
            return
        }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: inFeatures)
        defer { scratch.deallocate() }
        for (i, r) in rows.enumerated() {
            RowCodec.dequantize(type, row(r), into: scratch, count: inFeatures)
            let target = out + i * inFeatures
            for j in 0..<inFeatures { target[j] = T(scratch[j]) }
        }
    }

    /// Calls `body` with each block of consecutive rows decoded into scratch [rows × in].
    private func forEachDecodedBlock<T: Scalar>(_: T.Type, _ body: (Range<Int>, UnsafePointer<T>) -> Void) {
        let blockRows = self.blockRows
        let scratch = UnsafeMutablePointer<T>.allocate(capacity: blockRows * inFeatures)
        defer { scratch.deallocate() }
        for start in stride(from: 0, to: outFeatures, by: blockRows) {
            let rows = start..<min(start + blockRows, outFeatures)
            decodeRows(rows, into: scratch)
            body(rows, scratch)
        }
    }
}
