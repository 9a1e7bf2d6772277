/// How a tensor's elements are stored in a model file.
///
/// The cases medtune computes with are listed; every other type a file may declare is kept as
/// `.other` with its block layout, so such files can still be parsed, validated and inspected,
/// and only using such a tensor fails.
public enum StorageType: Hashable, Sendable, CustomStringConvertible {
    case f32, f16, bf16
    /// GGML block quantisations: 32 (`_0`) or 256 (`_K`) elements share their scales.
    case q4_0, q5_0, q8_0, q4_K, q5_K, q6_K
    case other(name: String, blockSize: Int, blockBytes: Int)

    /// The name as GGML and safetensors spell it ("F32", "BF16", "Q4_K").
    public var name: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q4_0: "Q4_0"
        case .q5_0: "Q5_0"
        case .q8_0: "Q8_0"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .other(let name, _, _): name
        }
    }

    public var description: String { name }

    /// Elements per block; scales are shared within a block, so rows hold whole blocks.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q5_0, .q8_0: 32
        case .q4_K, .q5_K, .q6_K: 256
        case .other(_, let size, _): size
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q5_0: 22
        case .q8_0: 34
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        case .other(_, _, let bytes): bytes
        }
    }

    /// Whether medtune can dequantize and multiply with this type.
    public var isSupported: Bool {
        if case .other = self { return false }
        return true
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes taken by `count` elements, or nil when `count` is not whole blocks or overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    /// The types medtune computes with, in a stable order.
    public static let supported: [StorageType] = [.f32, .f16, .bf16, .q4_0, .q5_0, .q8_0, .q4_K, .q5_K, .q6_K]

    // MARK: GGML type ids (ggml.h `enum ggml_type`)

    /// The type with GGML id `id`, or nil for an id GGML does not define.
    public init?(ggmlID id: UInt32) {
        switch id {
        case 0: self = .f32
        case 1: self = .f16
        case 2: self = .q4_0
        case 6: self = .q5_0
        case 8: self = .q8_0
        case 12: self = .q4_K
        case 13: self = .q5_K
        case 14: self = .q6_K
        case 30: self = .bf16
        default:
            guard let layout = Self.otherGGMLTypes[id] else { return nil }
            self = .other(name: layout.name, blockSize: layout.blockSize, blockBytes: layout.blockBytes)
        }
    }

    /// GGML types medtune reads past but does not compute with (from gguf-py GGML_QUANT_SIZES).
    private static let otherGGMLTypes: [UInt32: (name: String, blockSize: Int, blockBytes: Int)] = [
        3: ("Q4_1", 32, 20), 7: ("Q5_1", 32, 24), 9: ("Q8_1", 32, 40),
        10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 15: ("Q8_K", 256, 292),
        16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
        19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
        22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
        26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
        34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
    ]

    /// The GGML id of the type (those medtune only reads past included, so a GGUF writer can copy
    /// their tensors unchanged); nil for a safetensors-only type.
    public var ggmlID: UInt32? {
        switch self {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q5_0: 6
        case .q8_0: 8
        case .q4_K: 12
        case .q5_K: 13
        case .q6_K: 14
        case .bf16: 30
        case .other(let name, let blockSize, let blockBytes):
            Self.otherGGMLTypes.first { $0.value == (name, blockSize, blockBytes) }?.key
        }
    }

    // MARK: safetensors dtypes

    /// The type of a safetensors `dtype` string, or nil for a string the format does not define.
    public init?(safetensorsDType dtype: String) {
        switch dtype {
        case "F32": self = .f32
        case "F16": self = .f16
        case "BF16": self = .bf16
        default:
            guard let (size, bytes) = Self.otherSafetensorsTypes[dtype] else { return nil }
            self = .other(name: dtype, blockSize: size, blockBytes: bytes)
        }
    }

    /// Elements per byte group of the safetensors dtypes medtune only reads past.
    private static let otherSafetensorsTypes: [String: (Int, Int)] = [
        "BOOL": (1, 1), "U8": (1, 1), "I8": (1, 1), "F8_E5M2": (1, 1), "F8_E4M3": (1, 1), "F8_E8M0": (1, 1),
        "I16": (1, 2), "U16": (1, 2), "I32": (1, 4), "U32": (1, 4), "I64": (1, 8), "U64": (1, 8),
        "F64": (1, 8), "C64": (1, 8), "F4": (2, 1), "F6_E2M3": (4, 3), "F6_E3M2": (4, 3),
    ]

    /// Order in which the `safetensors` package lays tensors out: larger alignment first
    /// (its `Dtype` enum order, highest first), then by name.
    var safetensorsRank: Int {
        switch self {
        case .f16: 11
        case .bf16: 12
        case .f32: 15
        default: 0
        }
    }
}
