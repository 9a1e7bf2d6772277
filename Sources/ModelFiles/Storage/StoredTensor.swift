import MedtuneCore

/// One tensor as a model file stores it. Its bytes stay in the file's mapping (never copied);
/// the tensor keeps the mapping alive.
public struct StoredTensor: @unchecked Sendable {
    /// The name the file gives it.
    public let name: String
    public let type: StorageType
    /// Row-major, outermost first: a linear layer's weight is [out features, in features], in
    /// both formats (GGUF lists dimensions innermost first; they are reversed here).
    public let shape: [Int]
    /// The stored bytes, inside the mapping.
    public let bytes: UnsafeRawBufferPointer
    let file: MappedFile

    init(name: String, type: StorageType, shape: [Int], file: MappedFile, offset: Int, byteCount: Int) {
        self.init(name: name, type: type, shape: shape, file: file,
                  bytes: UnsafeRawBufferPointer(start: file.pointer(at: offset), count: byteCount))
    }

    private init(name: String, type: StorageType, shape: [Int], file: MappedFile, bytes: UnsafeRawBufferPointer) {
        self.name = name
        self.type = type
        self.shape = shape
        self.file = file
        self.bytes = bytes
    }

    /// A matrix [rows × columns] stored as `type` (f32, f16 or bf16) in its own memory, row `r`'s
    /// float values written by `values(r, row)` (called in parallel, so it must depend on `r` only).
    public static func generated(name: String, type: StorageType, rows: Int, columns: Int,
                                 values: @Sendable (Int, UnsafeMutablePointer<Float>) -> Void) throws -> StoredTensor {
        guard [.f32, .f16, .bf16].contains(type) else {
            throw InputError(at: "tensor \(name)", "generated tensors are f32, f16 or bf16, not \(type.name)")
        }
        let rowBytes = type.blockBytes * columns
        let file = try MappedFile(anonymous: rows * rowBytes, name: name) { memory in
            let base = memory.baseAddress!
            Parallel.forRanges(rows, grain: max(1, 65536 / max(columns, 1))) { range in
                let row = UnsafeMutablePointer<Float>.allocate(capacity: columns)
                defer { row.deallocate() }
                for r in range {
                    values(r, row)
                    let target = base + r * rowBytes
                    switch type {
                    case .bf16: for c in 0..<columns { target.storeBytes(of: HalfFloat.bfloat(from: row[c]).littleEndian, toByteOffset: 2 * c, as: UInt16.self) }
                    case .f16: for c in 0..<columns { target.storeBytes(of: HalfFloat.half(from: row[c]).littleEndian, toByteOffset: 2 * c, as: UInt16.self) }
                    default: for c in 0..<columns { target.storeBytes(of: row[c].bitPattern.littleEndian, toByteOffset: 4 * c, as: UInt32.self) }
                    }
                }
            }
        }
        return StoredTensor(name: name, type: type, shape: [rows, columns], file: file, offset: 0, byteCount: rows * rowBytes)
    }

    /// The first `rows` rows of a matrix, sharing this tensor's bytes (for measurements and tests
    /// on part of a large matrix).
    func leadingRows(_ rows: Int) throws -> StoredTensor {
        guard shape.count == 2, (0...shape[0]).contains(rows), shape[0] > 0 else {
            throw error("cannot take \(rows) leading rows of shape \(shape)")
        }
        let rowBytes = bytes.count / shape[0]
        return StoredTensor(name: name, type: type, shape: [rows, shape[1]], file: file,
                            bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<(rows * rowBytes)]))
    }

    /// The file the tensor lives in.
    public var path: String { file.path }

    public var elementCount: Int { shape.reduce(1, *) }

    /// An error about this tensor, naming its file and itself.
    public func error(_ message: String) -> InputError {
        InputError(file: path, at: "tensor \(name)", message)
    }

    /// Fails unless medtune can compute with the stored type.
    public func requireSupportedType() throws {
        guard type.isSupported else {
            throw error("stored as \(type.name), which medtune cannot compute with "
                        + "(supported: \(StorageType.supported.map(\.name).joined(separator: ", ")))")
        }
    }

    /// Fails unless the shape is `expected`.
    public func requireShape(_ expected: [Int]) throws {
        guard shape == expected else { throw error("shape \(shape) does not match the expected \(expected)") }
    }

    /// All elements decoded to float32: for small tensors (norm weights, biases).
    public func floats() throws -> [Float] {
        try requireSupportedType()
        let count = elementCount
        guard count > 0, let source = bytes.baseAddress else { return [] }
        // Row by row: a quantized tensor's blocks never straddle rows.
        let rowLength = shape.last ?? 1
        let rows = count / rowLength
        let rowBytes = bytes.count / rows
        var result = [Float](repeating: 0, count: count)
        result.withUnsafeMutableBufferPointer { out in
            let destination = out.baseAddress!
            Parallel.forRanges(rows, grain: max(1, 65536 / rowLength)) { range in
                for r in range {
                    RowCodec.dequantize(type, source + r * rowBytes, into: destination + r * rowLength, count: rowLength)
                }
            }
        }
        return result
    }

    /// All elements decoded into a new tensor of the same shape.
    public func tensor<T: Scalar>(_: T.Type = T.self) throws -> Tensor<T> {
        let values = try floats()
        let result = Tensor<T>(shape)
        for i in 0..<values.count { result[i] = T(values[i]) }
        return result
    }
}
