import Foundation
import ModelFiles
import TestSupport

/// Builds small GGUF files byte by byte, following the GGUF specification, for tests.
struct GGUFBuilder {
    struct Tensor { var name: String; var typeID: UInt32; var dimensions: [Int]; var data: [UInt8] }

    var version: UInt32 = 3
    var alignment = 32
    var metadata: [(key: String, value: GGUFValue)] = []
    var tensors: [Tensor] = []

    mutating func add(_ name: String, type: StorageType, dimensions: [Int], data: [UInt8]) {
        tensors.append(Tensor(name: name, typeID: type.ggmlID ?? 0, dimensions: dimensions, data: data))
    }

    /// The whole file.
    func bytes() -> [UInt8] {
        var out: [UInt8] = Array("GGUF".utf8)
        put(version, &out)
        put(UInt64(tensors.count), &out)
        put(UInt64(metadata.count), &out)
        for (key, value) in metadata {
            putString(key, &out)
            put(Self.typeID(value), &out)
            putValue(value, &out)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            putString(t.name, &out)
            put(UInt32(t.dimensions.count), &out)
            for d in t.dimensions { put(UInt64(d), &out) }
            put(t.typeID, &out)
            put(UInt64(o), &out)
        }
        pad(&out)
        for t in tensors {
            out += t.data
            pad(&out)
        }
        return out
    }

    /// Writes the file into `directory` and returns its path.
    func write(to directory: URL, name: String = "model.gguf") throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes()).write(to: url)
        return url.path
    }

    private func pad(_ out: inout [UInt8]) {
        out += [UInt8](repeating: 0, count: (alignment - out.count % alignment) % alignment)
    }

    private func put<I: FixedWidthInteger>(_ value: I, _ out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    private func putString(_ s: String, _ out: inout [UInt8]) {
        put(UInt64(s.utf8.count), &out)
        out += Array(s.utf8)
    }

    static func typeID(_ value: GGUFValue) -> UInt32 {
        switch value {
        case .uint8: 0
        case .int8: 1
        case .uint16: 2
        case .int16: 3
        case .uint32: 4
        case .int32: 5
        case .float32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .uint64: 10
        case .int64: 11
        case .float64: 12
        }
    }

    private func putValue(_ value: GGUFValue, _ out: inout [UInt8]) {
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
            put(elements.first.map(Self.typeID) ?? 0, &out)
            put(UInt64(elements.count), &out)
            for e in elements { putValue(e, &out) }
        }
    }
}

/// float32 values as little-endian bytes.
func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}
