import CKernels
import MedtuneCore

/// Float32 input rows quantized to 8 bits for the integer products of `MatrixPrecision.q8`
/// (CKernels' `medtune_q8_*`): in blocks of the size the weight type takes (32 for Q4_0, Q5_0
/// and Q8_0, 256 for the K formats, as llama.cpp's q8_0 and q8_K), each block one float scale,
/// the largest magnitude / 127, and values rounded to nearest, with the sums of every sixteen.
struct Q8Rows {
    /// Rows and elements per row.
    let rows: Int, count: Int
    /// Elements per scale.
    let block: Int
    /// values[i · count + j] · scales[(i · count + j) / block] ≈ x[i, j].
    let values: [Int8]
    let scales: [Float]
    /// sums[g] = values[16g] + … + values[16g + 15].
    let sums: [Int16]

    /// The fastest integer kernel of this CPU (a `MEDTUNE_Q8_` value): AVX-512 VNNI, AVX2 or
    /// portable C.
    static let bestKernel = medtune_q8_best_kernel()

    /// The activation block size that weights stored as `type` multiply with; nil for a type
    /// without integer kernels (floats, and block types medtune does not compute with).
    static func blockSize(for type: StorageType) -> Int? {
        guard let id = type.ggmlID else { return nil }
        let size = Int(medtune_q8_block_size(Int32(id)))
        return size > 0 ? size : nil
    }

    /// Quantizes x [rows × count] (count a multiple of `block`).
    init(_ x: UnsafePointer<Float>, rows: Int, count: Int, block: Int) {
        precondition(count % block == 0, "\(count) elements are not whole blocks of \(block)")
        self.rows = rows; self.count = count; self.block = block
        var scales = [Float](repeating: 0, count: rows * count / block)
        var sums = [Int16](repeating: 0, count: rows * count / 16)
        values = [Int8](unsafeUninitializedCapacity: rows * count) { values, initialized in
            scales.withUnsafeMutableBufferPointer { scales in
                sums.withUnsafeMutableBufferPointer { sums in
                    medtune_q8_quantize(x, rows * count, Int32(block), values.baseAddress!, scales.baseAddress!, sums.baseAddress!)
                }
            }
            initialized = rows * count
        }
        self.scales = scales; self.sums = sums
    }

    /// y[r] = Σ w_r · x_i (added to y[r] when `accumulate`) for the `weightRows` rows of `type`
    /// at `weights`, `rowBytes` apart, and input row i; on `kernel` (at most `bestKernel`).
    func dots(_ type: StorageType, _ weights: UnsafeRawPointer, rowBytes: Int, weightRows: Int, input i: Int,
              into y: UnsafeMutablePointer<Float>, accumulate: Bool, kernel: Int32 = Q8Rows.bestKernel) {
        values.withUnsafeBufferPointer { values in
            scales.withUnsafeBufferPointer { scales in
                sums.withUnsafeBufferPointer { sums in
                    let row = medtune_q8_row(values: values.baseAddress! + i * count, scales: scales.baseAddress! + i * count / block,
                                             sums: sums.baseAddress! + i * count / 16)
                    medtune_q8_dots(kernel, Int32(type.ggmlID!), weights, rowBytes, weightRows, count, row, y, accumulate ? 1 : 0)
                }
            }
        }
    }
}
