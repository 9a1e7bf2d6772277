import Foundation
import TestSupport

/// Golden files of this area, decoded with Foundation (independent of medtune's own JSON parser).
enum Golden {
    static func load<T: Decodable>(_ name: String, as: T.Type = T.self) throws -> T {
        let data = try Data(contentsOf: TestPaths.golden("ModelFiles/\(name)"))
        return try JSONDecoder().decode(T.self, from: data)
    }
}

/// A JSON scalar of unknown type, as the golden files record GGUF metadata.
enum AnyScalar: Decodable, Equatable {
    case int(Int), double(Double), string(String), bool(Bool)

    /// Numbers compare by value: JSON does not keep 1e6 and 1000000 apart.
    static func == (a: AnyScalar, b: AnyScalar) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        default: a.number != nil && a.number == b.number
        }
    }

    var number: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else { self = .string(try c.decode(String.self)) }
    }
}

struct GGUFHeaderGolden: Decodable {
    struct Scalar: Decodable { let type: String; let value: AnyScalar }
    struct ArraySummary: Decodable { let type: String; let count: Int; let head: [AnyScalar]; let tail: [AnyScalar] }
    struct Info: Decodable { let name: String; let type: String; let dimensions: [Int]; let offset: Int }
    let file: String
    let tensor_count: Int
    let data_offset: Int
    let metadata_keys: [String]
    let scalars: [String: Scalar]
    let arrays: [String: ArraySummary]
    let tensors: [Info]
    let tensor_types: [String: Int]
}

struct GGUFQwenGolden: Decodable {
    struct Rows: Decodable { let tensor: String; let type: String; let rows: Int; let values: [Float] }
    struct Product: Decodable { let tensor: String; let type: String; let shape: [Int]; let y: [Double]; let dx: [Double] }
    struct Embedding: Decodable { let tensor: String; let ids: [Int]; let values: [Float] }
    let alignment: Int
    let rows: [Rows]
    let products: [Product]
    let embedding: Embedding
}

struct BlockGolden: Decodable {
    struct Case: Decodable { let type: String; let source: String; let shape: [Int]; let bytes: String; let values: [Float] }
    let cases: [Case]
}

extension String {
    /// Bytes of a lowercase hex string.
    var hexBytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(utf8.count / 2)
        var high: UInt8?
        for c in utf8 {
            let v = c <= 57 ? c - 48 : c - 87
            if let h = high { result.append(h << 4 | v); high = nil } else { high = v }
        }
        return result
    }
}

/// The exactly representable inputs `pattern` of scripts/golden/model_files_gguf.py.
func pattern(rows: Int, cols: Int, _ a: Int, _ b: Int) -> [Float] {
    var result = [Float](repeating: 0, count: rows * cols)
    for i in 0..<rows {
        for j in 0..<cols { result[i * cols + j] = Float((j * a + i * b) % 17 - 8) / 8 }
    }
    return result
}

struct SafetensorsGolden: Decodable {
    struct WriterTensor: Decodable { let name: String; let dtype: String; let shape: [Int]; let values: [Float]; let decoded_bits: [UInt32] }
    struct Writer: Decodable { let metadata: [String: String]; let tensors: [WriterTensor]; let file_hex: String }
    struct Sample: Decodable { let name: String; let shape: [Int]; let first: [Float] }
    struct MiniLM: Decodable { let tensor_count: Int; let dtypes: [String: Int]; let samples: [Sample] }
    struct HFTensor: Decodable { let sum: Double; let first: [Float]; let shape: [Int] }
    struct GGUFTensor: Decodable { let type: String; let gguf: String; let sum: Double; let first: [Float] }
    struct TinyQwen2: Decodable { let hf: [String: HFTensor]; let gguf: [String: GGUFTensor] }
    let writer: Writer
    let minilm: MiniLM
    let tiny_qwen2: TinyQwen2
}
