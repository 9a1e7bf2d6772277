/// The canonical names of a Qwen2 model's tensors: the Hugging Face names. GGUF names are
/// mapped onto them, so the transformer loads either format through one code path.
public enum Qwen2TensorNames {
    public static let embedding = "model.embed_tokens.weight"
    public static let finalNorm = "model.norm.weight"
    public static let lmHead = "lm_head.weight"

    /// The tensors of one decoder layer, by their name inside `model.layers.N.`.
    public enum Layer: String, CaseIterable, Sendable {
        case inputNorm = "input_layernorm.weight"
        case postAttentionNorm = "post_attention_layernorm.weight"
        case qProj = "self_attn.q_proj.weight"
        case qBias = "self_attn.q_proj.bias"
        case kProj = "self_attn.k_proj.weight"
        case kBias = "self_attn.k_proj.bias"
        case vProj = "self_attn.v_proj.weight"
        case vBias = "self_attn.v_proj.bias"
        case oProj = "self_attn.o_proj.weight"
        case gateProj = "mlp.gate_proj.weight"
        case upProj = "mlp.up_proj.weight"
        case downProj = "mlp.down_proj.weight"

        /// The GGUF name inside `blk.N.`.
        var ggufName: String {
            switch self {
            case .inputNorm: "attn_norm.weight"
            case .postAttentionNorm: "ffn_norm.weight"
            case .qProj: "attn_q.weight"
            case .qBias: "attn_q.bias"
            case .kProj: "attn_k.weight"
            case .kBias: "attn_k.bias"
            case .vProj: "attn_v.weight"
            case .vBias: "attn_v.bias"
            case .oProj: "attn_output.weight"
            case .gateProj: "ffn_gate.weight"
            case .upProj: "ffn_up.weight"
            case .downProj: "ffn_down.weight"
            }
        }

        /// Row-major shape the config implies.
        public func shape(_ c: Qwen2Config) -> [Int] {
            let kv = c.kvHeadCount * c.headDim
            switch self {
            case .inputNorm, .postAttentionNorm, .qBias: return [c.hiddenSize]
            case .kBias, .vBias: return [kv]
            case .qProj, .oProj: return [c.hiddenSize, c.hiddenSize]
            case .kProj, .vProj: return [kv, c.hiddenSize]
            case .gateProj, .upProj: return [c.intermediateSize, c.hiddenSize]
            case .downProj: return [c.hiddenSize, c.intermediateSize]
            }
        }
    }

    public static func layer(_ index: Int, _ tensor: Layer) -> String {
        "model.layers.\(index).\(tensor.rawValue)"
    }

    private static let globalGGUFNames = [
        "token_embd.weight": embedding,
        "output_norm.weight": finalNorm,
        "output.weight": lmHead,
    ]
    private static let layerByGGUFName = Dictionary(uniqueKeysWithValues: Layer.allCases.map { ($0.ggufName, $0) })

    /// The canonical name of a GGUF tensor name; names outside the Qwen2 layout are kept as they are.
    public static func canonical(ggufName name: String) -> String {
        if let global = globalGGUFNames[name] { return global }
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blk", let index = Int(parts[1]), index >= 0,
              let tensor = layerByGGUFName[String(parts[2])] else { return name }
        return layer(index, tensor)
    }

    /// The GGUF name of a canonical tensor name (what llama.cpp calls the tensor), or nil for a
    /// name outside the Qwen2 layout.
    public static func ggufName(canonical name: String) -> String? {
        if let global = globalGGUFNames.first(where: { $0.value == name }) { return global.key }
        let parts = name.split(separator: ".", maxSplits: 3)
        guard parts.count == 4, parts[0] == "model", parts[1] == "layers", let index = Int(parts[2]), index >= 0,
              let tensor = Layer(rawValue: String(parts[3])) else { return nil }
        return "blk.\(index).\(tensor.ggufName)"
    }

    /// Every tensor a model with `config` must have, with its shape.
    public static func expected(_ config: Qwen2Config) -> [(name: String, shape: [Int])] {
        var result: [(name: String, shape: [Int])] = [
            (embedding, [config.vocabSize, config.hiddenSize]),
            (finalNorm, [config.hiddenSize]),
        ]
        if !config.tieWordEmbeddings { result.append((lmHead, [config.vocabSize, config.hiddenSize])) }
        for i in 0..<config.layerCount {
            for tensor in Layer.allCases { result.append((layer(i, tensor), tensor.shape(config))) }
        }
        return result
    }
}
