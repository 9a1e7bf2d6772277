import Foundation
import MedtuneCore

/// Writes GGUF version 3 files laid out as gguf-py's `GGUFWriter` and llama.cpp lay them out:
/// metadata in the order given, the tensor directory in the order tensors were added, each
/// tensor's data at the next multiple of the alignment (`general.alignment`, 32 when absent),
/// zero padding between. A file copied tensor by tensor from another written this way is
/// therefore byte-identical to it.
///
/// Tensors are declared first and their bytes produced one at a time while writing, so a model
/// never sits in memory whole. The file appears under its name only once it is complete, flushed
/// and read back by `GGUFFile` with the same metadata and tensor directory.
public struct GGUFWriter {
    /// Metadata entries in file order.
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    private var tensors: [Planned] = []

    private struct Planned {
        let name: String
        let type: StorageType
        let typeID: UInt32
        let dimensions: [Int]
        let byteCount: Int
        let fill: (UnsafeMutableRawBufferPointer) throws -> Void
    }

    public init() {}

    /// Sets `key` to `value`: in its place when the key is already there, else at the end.
    public mutating func setMetadata(_ key: String, _ value: GGUFValue) throws {
        try Self.requireUniformArrays(value, key: key)
        if let index = metadata.firstIndex(where: { $0.key == key }) {
            metadata[index].value = value
        } else {
            metadata.append((key, value))
        }
    }

    /// Declares a tensor of row-major `shape` (outermost first, as `StoredTensor.shape`) stored as
    /// `type`; `fill` writes its bytes (exactly `type.byteCount(elements:)` of them, zeroed
    /// beforehand) into the buffer it is given when the file is written.
    public mutating func addTensor(_ name: String, type: StorageType, shape: [Int],
                                   fill: @escaping (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        func fail(_ message: String) -> InputError { InputError(at: "tensor \(InputError.excerpt(name))", message) }
        guard !tensors.contains(where: { $0.name == name }) else { throw fail("added twice") }
        guard let typeID = type.ggmlID else { throw fail("\(type.name) is not a GGML type") }
        guard (1...GGUFFile.maximumDimensions).contains(shape.count), shape.allSatisfy({ $0 > 0 }) else {
            throw fail("shape \(shape) is not 1 to \(GGUFFile.maximumDimensions) positive dimensions")
        }
        let (elements, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, elements <= GGUFFile.maximumElements else { throw fail("shape \(shape) has too many elements") }
        guard shape.last! % type.blockSize == 0, let byteCount = type.byteCount(elements: elements) else {
            throw fail("rows of \(shape.last!) elements are not whole \(type.name) blocks of \(type.blockSize)")
        }
        tensors.append(Planned(name: name, type: type, typeID: typeID, dimensions: shape.reversed(), byteCount: byteCount, fill: fill))
    }

    /// Writes the file to `path` (a temporary name in its folder, flushed, then renamed), after
    /// reading it back and running `check` on it.
    public func write(to path: String, check: (GGUFFile) throws -> Void = { _ in }) throws {
        let alignment = try self.alignment()
        let directory = tensorDirectory(alignment: alignment)
        let header = headerBytes(directory, alignment: alignment)
        try AtomicFile.write(to: path, { handle in
            try handle.write(contentsOf: header)
            for (tensor, info) in zip(tensors, directory) {
                let padded = Self.padded(tensor.byteCount, to: alignment)
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: padded, alignment: 64)
                defer { buffer.deallocate() }
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                do {
                    try tensor.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<tensor.byteCount]))
                } catch {
                    throw InputError(at: "tensor \(info.name)", SystemError.reason(of: error))
                }
                try handle.write(contentsOf: Data(bytesNoCopy: buffer.baseAddress!, count: padded, deallocator: .none))
            }
        }, check: { temporary in
            let file = try GGUFFile(path: temporary)
            guard file.version == 3, file.metadataKeys == metadata.map(\.key),
                  metadata.allSatisfy({ file.metadata[$0.key] == $0.value }) else {
                throw SystemError("\(temporary): the metadata does not read back as written")
            }
            guard file.tensors == directory, file.dataOffset == header.count else {
                throw SystemError("\(temporary): the tensor directory does not read back as written")
            }
            try check(file)
        })
    }

    private func alignment() throws -> Int {
        guard let value = metadata.first(where: { $0.key == "general.alignment" })?.value else { return 32 }
        guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
            throw InputError(at: "general.alignment", "must be a power of two stored as uint32")
        }
        return Int(a)
    }

    private static func padded(_ count: Int, to alignment: Int) -> Int {
        (count + alignment - 1) / alignment * alignment
    }

    private func tensorDirectory(alignment: Int) -> [GGUFTensorInfo] {
        var offset = 0
        return tensors.map { t in
            defer { offset += Self.padded(t.byteCount, to: alignment) }
            return GGUFTensorInfo(name: t.name, type: t.type, dimensions: t.dimensions, offset: offset, byteCount: t.byteCount)
        }
    }

    /// Magic, version, counts, metadata and tensor directory, zero-padded to the alignment.
    private func headerBytes(_ directory: [GGUFTensorInfo], alignment: Int) -> Data {
        var out = Data("GGUF".utf8)
        Self.put(UInt32(3), &out)
        Self.put(UInt64(tensors.count), &out)
        Self.put(UInt64(metadata.count), &out)
        for (key, value) in metadata {
            Self.putString(key, &out)
            Self.put(value.typeID, &out)
            Self.putValue(value, &out)
        }
        for (tensor, info) in zip(tensors, directory) {
            Self.putString(info.name, &out)
            Self.put(UInt32(info.dimensions.count), &out)
            for d in info.dimensions { Self.put(UInt64(d), &out) }
            Self.put(tensor.typeID, &out)
            Self.put(UInt64(info.offset), &out)
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: Self.padded(out.count, to: alignment) - out.count))
        return out
    }

    /// GGUF arrays hold one element type; an empty array is written as an array of uint8 (its
    /// element type is not kept by `GGUFValue`).
    private static func requireUniformArrays(_ value: GGUFValue, key: String) throws {
        guard case .array(let elements) = value else { return }
        guard let first = elements.first else { return }
        guard elements.allSatisfy({ $0.typeID == first.typeID }) else {
            throw InputError(at: InputError.excerpt(key), "an array's elements must all have one type")
        }
        for element in elements { try requireUniformArrays(element, key: key) }
    }

    private static func put<I: FixedWidthInteger>(_ value: I, _ out: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func putString(_ s: String, _ out: inout Data) {
        put(UInt64(s.utf8.count), &out)
        out.append(contentsOf: s.utf8)
    }

    private static func putValue(_ value: GGUFValue, _ out: inout Data) {
        switch value {
        case .uint8(let v): put(v, &out)
        case .int8(let v): put(v, &out)
        case .uint16(let v): put(v, &out)
        case .int16(let v): put(v, &out)
        case .uint32(let v): put(v, &out)
        case .int32(let v): put(v, &out)
        case .uint64(let v): put(v, &out)
        case .int64(let v): put(v, &out)
        case .float32(let v): put(v.bitPattern, &out)
        case .float64(let v): put(v.bitPattern, &out)
        case .bool(let v): put(UInt8(v ? 1 : 0), &out)
        case .string(let s): putString(s, &out)
        case .array(let elements):
            put(elements.first?.typeID ?? GGUFValue.uint8(0).typeID, &out)
            put(UInt64(elements.count), &out)
            for element in elements { putValue(element, &out) }
        }
    }
}
