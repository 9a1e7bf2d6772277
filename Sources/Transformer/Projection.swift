/// One of the seven linear projections of a Qwen2 decoder layer: the unit a LoRA adapter attaches
/// to, named as PEFT and Hugging Face name it. The order of the cases is the model's own (the
/// order PEFT walks the modules in), and every list of projections in medtune follows it.
public enum Projection: String, CaseIterable, Codable, Sendable, Comparable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj"
    case gate = "gate_proj", up = "up_proj", down = "down_proj"

    /// The sub-module of the layer that holds a projection.
    public enum Group: String, Sendable {
        case attention = "self_attn"
        case mlp
    }

    public var group: Group {
        switch self {
        case .q, .k, .v, .o: .attention
        case .gate, .up, .down: .mlp
        }
    }

    /// Position in the layer, 0 (q) … 6 (down).
    public var ordinal: Int { Self.allCases.firstIndex(of: self)! }

    /// PEFT's module path, `model.layers.N.self_attn.q_proj`.
    public func modulePath(layer: Int) -> String { "model.layers.\(layer).\(group.rawValue).\(rawValue)" }

    /// PEFT's name of one matrix of the adapter on this projection of `layer`,
    /// `base_model.model.<module path>.lora_A.weight`.
    public func tensorName(layer: Int, _ matrix: LoRAMatrix) -> String {
        "base_model.model.\(modulePath(layer: layer)).lora_\(matrix.rawValue).weight"
    }

    public static func < (a: Projection, b: Projection) -> Bool { a.ordinal < b.ordinal }
}

/// The two factors of a LoRA update, A [rank × in] and B [out × rank].
public enum LoRAMatrix: String, Sendable {
    case a = "A", b = "B"
}

/// Where an adapter sits: one projection of one layer. Sites order as PEFT's modules do, layer
/// by layer and projection by projection.
public struct AdapterSite: Hashable, Comparable, Sendable {
    public var layer: Int
    public var projection: Projection

    public init(layer: Int, _ projection: Projection) { self.layer = layer; self.projection = projection }

    public var modulePath: String { projection.modulePath(layer: layer) }
    public func tensorName(_ matrix: LoRAMatrix) -> String { projection.tensorName(layer: layer, matrix) }

    public static func < (a: AdapterSite, b: AdapterSite) -> Bool { (a.layer, a.projection) < (b.layer, b.projection) }
}
