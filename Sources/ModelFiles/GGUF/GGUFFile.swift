import MedtuneCore

/// Where one tensor lies in a GGUF file, as its header describes it.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: StorageType
    /// GGML order: innermost (contiguous) dimension first.
    public let dimensions: [Int]
    /// Offset from the start of the data section (a multiple of the file's alignment).
    public let offset: Int
    public let byteCount: Int

    /// Row-major shape, outermost first (`dimensions` reversed): [out, in] for a linear weight.
    public var shape: [Int] { dimensions.reversed() }
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// A GGUF file (versions 2 and 3, little-endian): metadata, tensor directory, and tensor bytes
/// read through a memory mapping.
///
/// Opening reads only the header, so a file whose tensor data is incomplete (the first part of a
/// split download) still yields its metadata; asking for a tensor that lies past the end of the
/// file is an error.
public final class GGUFFile: @unchecked Sendable {
    public var path: String { file.path }
    public let version: UInt32
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, 32 when absent.
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataOffset: Int
    private let file: MappedFile
    private let tensorIndex: [String: Int]

    /// Bound on array nesting, so that a hostile file cannot exhaust the stack.
    static let maximumArrayDepth = 8
    /// 2^40 elements: far above any real tensor, low enough that byte counts and offsets cannot overflow.
    static let maximumElements = 1 << 40
    /// GGML tensors have at most four dimensions.
    static let maximumDimensions = 4

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        var reader = ByteReader(file.bytes, file: file.path)

        let magic = try reader.read(UInt32.self, "the magic number")
        guard magic == 0x4655_4747 else {  // "GGUF" read little-endian
            throw reader.error("not a GGUF file (the first four bytes are not \"GGUF\")", at: 0)
        }
        let version = try reader.read(UInt32.self, "the version")
        guard version == 2 || version == 3 else {
            let hint = version.byteSwapped <= 3 ? " (a big-endian file; only little-endian is supported)" : ""
            throw reader.error("GGUF version \(version) is not supported (versions 2 and 3 are)\(hint)", at: 4)
        }
        self.version = version
        // Smallest possible tensor info: empty name (8) + dimension count (4) + type (4) + offset (8).
        let tensorCount = try reader.readCount("tensor count", minimumItemBytes: 24)
        // Smallest possible metadata entry: empty key (8) + value type (4) + a one-byte value.
        let keyCount = try reader.readCount("metadata entry count", minimumItemBytes: 13)

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        keys.reserveCapacity(keyCount)
        for _ in 0..<keyCount {
            let start = reader.offset
            let key = try reader.readString("a metadata key")
            let typeID = try reader.read(UInt32.self, "the type of \(InputError.excerpt(key))")
            let value = try Self.readValue(typeID, &reader, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw reader.error("duplicate metadata key \(InputError.excerpt(key))", at: start)
            }
            keys.append(key)
        }
        metadataKeys = keys
        self.metadata = metadata

        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
                throw InputError(file: file.path, at: "general.alignment", "must be a power of two stored as uint32")
            }
            alignment = Int(a)
        }
        self.alignment = alignment

        var tensors: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        tensors.reserveCapacity(tensorCount)
        for _ in 0..<tensorCount {
            let info = try Self.readTensorInfo(&reader, alignment: alignment)
            guard index.updateValue(tensors.count, forKey: info.name) == nil else {
                throw InputError(file: file.path, at: "tensor \(InputError.excerpt(info.name))", "duplicate tensor name")
            }
            tensors.append(info)
        }
        self.tensors = tensors
        tensorIndex = index
        dataOffset = (reader.offset + alignment - 1) / alignment * alignment
        try Self.checkNoOverlaps(tensors, path: file.path)
    }

    // MARK: Tensors

    public func info(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// Whether the file holds all of the tensor's bytes.
    public func isComplete(_ info: GGUFTensorInfo) -> Bool {
        dataOffset + info.offset + info.byteCount <= file.byteCount
    }

    /// The tensor named `name`, its bytes inside the mapping.
    public func tensor(named name: String) throws -> StoredTensor {
        guard let info = info(named: name) else {
            throw InputError(file: path, at: "tensor \(InputError.excerpt(name))", "no such tensor in the file")
        }
        let start = dataOffset + info.offset
        guard isComplete(info) else {
            throw InputError(file: path, at: "tensor \(InputError.excerpt(name))",
                             "data (bytes \(start)..<\(start + info.byteCount)) lies past the end of the file (\(file.byteCount) bytes); the file is incomplete")
        }
        return StoredTensor(name: name, type: info.type, shape: info.shape, file: file, offset: start, byteCount: info.byteCount)
    }

    // MARK: Header parsing

    private static func readValue(_ typeID: UInt32, _ reader: inout ByteReader, key: String, depth: Int) throws -> GGUFValue {
        switch typeID {
        case 0: return .uint8(try reader.read(UInt8.self, key))
        case 1: return .int8(try reader.read(Int8.self, key))
        case 2: return .uint16(try reader.read(UInt16.self, key))
        case 3: return .int16(try reader.read(Int16.self, key))
        case 4: return .uint32(try reader.read(UInt32.self, key))
        case 5: return .int32(try reader.read(Int32.self, key))
        case 6: return .float32(try reader.readFloat32(key))
        case 7:
            let start = reader.offset
            let byte = try reader.read(UInt8.self, key)
            guard byte <= 1 else { throw reader.error("\(InputError.excerpt(key)): bool value \(byte) is neither 0 nor 1", at: start) }
            return .bool(byte == 1)
        case 8: return .string(try reader.readString(key))
        case 9:
            guard depth < maximumArrayDepth else {
                throw reader.error("\(InputError.excerpt(key)): arrays nested more than \(maximumArrayDepth) deep")
            }
            let elementType = try reader.read(UInt32.self, "the element type of \(InputError.excerpt(key))")
            guard let elementBytes = minimumValueBytes(elementType) else {
                throw reader.error("\(InputError.excerpt(key)): unknown array element type \(elementType)", at: reader.offset - 4)
            }
            let count = try reader.readCount("length of \(InputError.excerpt(key))", minimumItemBytes: elementBytes)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                elements.append(try readValue(elementType, &reader, key: key, depth: depth + 1))
            }
            return .array(elements)
        case 10: return .uint64(try reader.read(UInt64.self, key))
        case 11: return .int64(try reader.read(Int64.self, key))
        case 12: return .float64(try reader.readFloat64(key))
        default:
            throw reader.error("\(InputError.excerpt(key)): unknown value type \(typeID)", at: reader.offset - 4)
        }
    }

    /// Fewest bytes a value of the type can take (an empty string or array still has its length).
    private static func minimumValueBytes(_ typeID: UInt32) -> Int? {
        switch typeID {
        case 0, 1, 7: 1
        case 2, 3: 2
        case 4, 5, 6: 4
        case 8: 8
        case 9: 12
        case 10, 11, 12: 8
        default: nil
        }
    }

    private static func readTensorInfo(_ reader: inout ByteReader, alignment: Int) throws -> GGUFTensorInfo {
        let name = try reader.readString("a tensor name")
        let path = reader.file
        func fail(_ message: String) -> InputError { InputError(file: path, at: "tensor \(InputError.excerpt(name))", message) }

        let dimensionCount = try reader.read(UInt32.self, "the dimension count of \(name)")
        guard dimensionCount <= maximumDimensions else {
            throw fail("\(dimensionCount) dimensions (GGUF allows at most \(maximumDimensions))")
        }
        var dimensions: [Int] = []
        var elements = 1
        for _ in 0..<dimensionCount {
            let raw = try reader.read(UInt64.self, "the dimensions of \(name)")
            guard raw <= UInt64(Int32.max) else { throw fail("dimension \(raw) is implausibly large") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(raw))
            guard !overflow, product <= maximumElements else { throw fail("element count exceeds \(maximumElements)") }
            elements = product
            dimensions.append(Int(raw))
        }
        let typeID = try reader.read(UInt32.self, "the type of \(name)")
        guard let type = StorageType(ggmlID: typeID) else { throw fail("unknown GGML type \(typeID)") }
        let rowLength = dimensions.first ?? 1
        guard rowLength % type.blockSize == 0, let byteCount = type.byteCount(elements: elements) else {
            throw fail("rows of \(rowLength) elements are not whole \(type.name) blocks of \(type.blockSize)")
        }
        let rawOffset = try reader.read(UInt64.self, "the offset of \(name)")
        guard rawOffset <= UInt64(Int.max / 2) else { throw fail("offset \(rawOffset) is implausibly large") }
        let offset = Int(rawOffset)
        guard offset % alignment == 0 else { throw fail("offset \(offset) is not a multiple of the alignment \(alignment)") }
        return GGUFTensorInfo(name: name, type: type, dimensions: dimensions, offset: offset, byteCount: byteCount)
    }

    private static func checkNoOverlaps(_ tensors: [GGUFTensorInfo], path: String) throws {
        let ordered = tensors.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where previous.offset + previous.byteCount > next.offset {
            throw InputError(file: path, at: "tensor \(InputError.excerpt(next.name))",
                             "data at offset \(next.offset) overlaps tensor \(previous.name) (\(previous.offset)..<\(previous.offset + previous.byteCount))")
        }
    }
}
