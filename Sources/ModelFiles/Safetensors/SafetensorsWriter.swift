import Foundation
import MedtuneCore

/// Writes safetensors files byte for byte as the reference `safetensors` package does: tensors
/// ordered by dtype (wider first) then name, a compact JSON header with `__metadata__` first,
/// padded with spaces to a multiple of 8 bytes.
///
/// Tensors are declared first and their values produced one at a time while writing, so a merged
/// model never has to sit in memory twice.
public struct SafetensorsWriter {
    /// Written in key order (the reference package writes them in hash order, so only a single
    /// entry is byte-for-byte reproducible between the two).
    public var metadata: [String: String]
    private var pending: [Pending] = []
    private var names = Set<String>()

    private struct Pending {
        let name: String
        let type: StorageType
        let shape: [Int]
        let byteCount: Int
        let values: () throws -> [Float]
    }

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Declares a tensor whose float32 values `values` produces when it is written; they are stored
    /// as `type` (F32, F16 or BF16, rounded to nearest even).
    public mutating func add(_ name: String, type: StorageType = .f32, shape: [Int],
                             values: @escaping () throws -> [Float]) throws {
        guard type == .f32 || type == .f16 || type == .bf16 else {
            throw InputError(at: "tensor \(name)", "safetensors output supports F32, F16 and BF16, not \(type.name)")
        }
        guard shape.allSatisfy({ $0 >= 0 }), let count = Self.elementCount(shape), let bytes = type.byteCount(elements: count) else {
            throw InputError(at: "tensor \(name)", "invalid shape \(shape)")
        }
        guard names.insert(name).inserted else { throw InputError(at: "tensor \(name)", "added twice") }
        pending.append(Pending(name: name, type: type, shape: shape, byteCount: bytes, values: values))
    }

    public mutating func add(_ name: String, type: StorageType = .f32, shape: [Int], values: [Float]) throws {
        try add(name, type: type, shape: shape) { values }
    }

    public mutating func add<T: Scalar>(_ name: String, type: StorageType = .f32, tensor: Tensor<T>) throws {
        try add(name, type: type, shape: tensor.shape) { tensor.array.map { Float($0) } }
    }

    private static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// Tensors in the order the reference package lays them out.
    private var ordered: [Pending] {
        pending.sorted { a, b in
            a.type.safetensorsRank != b.type.safetensorsRank
                ? a.type.safetensorsRank > b.type.safetensorsRank
                : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
    }

    /// The length prefix and padded JSON header.
    public func header() -> [UInt8] {
        var json = "{"
        var members: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                .map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0] ?? ""))" }
            members.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for t in ordered {
            let shape = t.shape.map(String.init).joined(separator: ",")
            members.append("\(Self.quoted(t.name)):{\"dtype\":\"\(t.type.name)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.byteCount)]}")
            offset += t.byteCount
        }
        json += members.joined(separator: ",") + "}"
        var bytes = Array(json.utf8)
        bytes += [UInt8](repeating: UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8)
        var length = UInt64(bytes.count).littleEndian
        return withUnsafeBytes(of: &length) { Array($0) } + bytes
    }

    /// A JSON string literal escaped as serde_json escapes it.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Writes the file atomically: readers see the old file or the complete new one.
    public func write(to path: String) throws {
        try AtomicFile.write(to: path) { handle in
            try handle.write(contentsOf: header())
            for t in ordered {
                let values = try t.values()
                guard values.count * t.type.blockBytes == t.byteCount else {
                    throw InputError(at: "tensor \(t.name)", "\(values.count) values for shape \(t.shape)")
                }
                try handle.write(contentsOf: Self.encode(values, as: t.type))
            }
        }
    }

    /// Little-endian bytes of `values` stored as `type`.
    private static func encode(_ values: [Float], as type: StorageType) -> [UInt8] {
        switch type {
        case .f16: return values.map { HalfFloat.half(from: $0).littleEndian }.withUnsafeBytes { Array($0) }
        case .bf16: return values.map { HalfFloat.bfloat(from: $0).littleEndian }.withUnsafeBytes { Array($0) }
        default: return values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { Array($0) }
        }
    }
}
