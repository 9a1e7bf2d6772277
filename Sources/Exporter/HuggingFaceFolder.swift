import Foundation
import MedtuneCore
import ModelFiles
import Tokenizers

/// A Qwen2 model written as a Hugging Face folder that transformers loads: config.json,
/// generation_config.json, safetensors in bfloat16, float16 or float32 (sharded with
/// model.safetensors.index.json when larger than one shard), tokenizer.json and
/// tokenizer_config.json.
public enum HuggingFaceFolder {
    /// transformers' default `max_shard_size` (5 GB).
    public static let defaultShardBytes = 5_000_000_000

    /// Writes `checkpoint` (typically a GGUF file, quantized tensors decoded) with `tokenizer` into
    /// `directory` as `dtype`, then opens the folder again with medtune's own reader and checks
    /// that it is the same model: equal config, and every tensor equal to its values rounded once
    /// to `dtype`. `values` gives a tensor's float32 values by name (the checkpoint's own by
    /// default; a merge passes weights with an adapter folded in).
    public static func write(_ checkpoint: ModelCheckpoint, tokenizer: BPETokenizer, to directory: String, dtype: StorageType = .bf16,
                             shardBytes: Int = defaultShardBytes, values: ((String) throws -> [Float])? = nil) throws {
        guard [.bf16, .f16, .f32].contains(dtype) else { throw InputError(at: "--dtype", "a Hugging Face folder holds bf16, f16 or f32, not \(dtype.name)") }
        let values = values ?? { try checkpoint.tensor($0).floats() }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = checkpoint.config
        // Tied embeddings have no lm_head tensor in transformers' Qwen2 either.
        let names = checkpoint.tensorNames.filter { !(config.tieWordEmbeddings && $0 == Qwen2TensorNames.lmHead) }
        let elementBytes = dtype == .f32 ? 4 : 2
        let sizes = names.map { name in (name: name, bytes: elementBytes * (checkpoint.entry(name)?.shape.reduce(1, *) ?? 0)) }
        let shards = shardPlan(sizes, shardBytes: shardBytes)
        for (index, shard) in shards.enumerated() {
            var writer = SafetensorsWriter(metadata: ["format": "pt"])
            for name in shard {
                let tensor = try checkpoint.tensor(name)
                try writer.add(name, type: dtype, shape: tensor.shape) { try values(name) }
            }
            try writer.write(to: directory + "/" + shardFileName(index, of: shards.count))
        }
        if shards.count > 1 {
            var weightMap: [String: String] = [:]
            for (index, shard) in shards.enumerated() { for name in shard { weightMap[name] = shardFileName(index, of: shards.count) } }
            try writeJSON(["metadata": ["total_size": sizes.reduce(0) { $0 + $1.bytes }], "weight_map": weightMap], to: directory + "/model.safetensors.index.json")
        }
        try writeJSON(modelConfig(config, tokenizer: tokenizer, dtype: dtype), to: directory + "/config.json")
        try writeJSON(specialIDs(tokenizer), to: directory + "/generation_config.json")
        try AtomicFile.write(tokenizer.huggingFaceJSON(), to: directory + "/tokenizer.json")
        try writeJSON(tokenizerConfig(tokenizer, maxLength: config.maxPositionEmbeddings), to: directory + "/tokenizer_config.json")
        try verify(directory, against: checkpoint, tokenizer: tokenizer, dtype: dtype, values: values)
    }

    /// Reads the folder back and compares it with its source; a difference is a medtune bug,
    /// reported with the tensor it concerns rather than left for a training run to find.
    static func verify(_ directory: String, against source: ModelCheckpoint, tokenizer: BPETokenizer, dtype: StorageType,
                       values: (String) throws -> [Float]) throws {
        let written = try ModelCheckpoint.open(directory)
        guard written.config == source.config else {
            throw SystemError("\(directory): config.json reads back as \(written.config), not \(source.config)")
        }
        for name in written.tensorNames {
            let expected = try values(name).map { value -> Float in
                switch dtype {
                case .bf16: return HalfFloat.float(fromBFloat: HalfFloat.bfloat(from: value))
                case .f16: return HalfFloat.float(fromHalf: HalfFloat.half(from: value))
                default: return value
                }
            }
            guard try written.tensor(name).floats().elementsEqual(expected, by: { $0.bitPattern == $1.bitPattern }) else {
                throw SystemError("\(directory): tensor \(name) does not read back as its values rounded to \(dtype.name)")
            }
        }
        let reloaded = try TokenizerLoader.loadBPE(path: directory)
        guard reloaded.vocabularySize == tokenizer.vocabularySize, reloaded.specialTokenIds == tokenizer.specialTokenIds else {
            throw SystemError("\(directory): tokenizer.json reads back with another vocabulary or other special tokens")
        }
    }

    /// Tensors in name order, cut into shards of at most `shardBytes` (a larger tensor gets a
    /// shard of its own), as transformers' save_pretrained cuts them.
    static func shardPlan(_ tensors: [(name: String, bytes: Int)], shardBytes: Int) -> [[String]] {
        var shards: [[String]] = [], current: [String] = [], size = 0
        for tensor in tensors {
            if !current.isEmpty && size + tensor.bytes > shardBytes {
                shards.append(current)
                current = []; size = 0
            }
            current.append(tensor.name)
            size += tensor.bytes
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        return shards
    }

    static func shardFileName(_ index: Int, of count: Int) -> String {
        count == 1 ? "model.safetensors" : String(format: "model-%05d-of-%05d.safetensors", index + 1, count)
    }

    private static func modelConfig(_ config: Qwen2Config, tokenizer: BPETokenizer, dtype: StorageType) -> [String: Any] {
        [
            "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
            "hidden_size": config.hiddenSize, "intermediate_size": config.intermediateSize,
            "num_hidden_layers": config.layerCount, "num_attention_heads": config.headCount,
            "num_key_value_heads": config.kvHeadCount, "rms_norm_eps": config.rmsNormEpsilon,
            "rope_theta": config.ropeTheta, "vocab_size": config.vocabSize,
            "max_position_embeddings": config.maxPositionEmbeddings, "tie_word_embeddings": config.tieWordEmbeddings,
            "attention_dropout": 0.0, "use_sliding_window": false, "use_cache": true,
            "torch_dtype": dtype == .f32 ? "float32" : dtype == .f16 ? "float16" : "bfloat16",
        ].merging(specialIDs(tokenizer)) { $1 }
    }

    private static func specialIDs(_ tokenizer: BPETokenizer) -> [String: Any] {
        var ids: [String: Any] = [:]
        if let bos = tokenizer.specialTokenIds.bos { ids["bos_token_id"] = bos }
        if let eos = tokenizer.specialTokenIds.eos { ids["eos_token_id"] = eos }
        return ids
    }

    /// The special tokens by text, and whether BOS/EOS are added (the GGUF's add_bos/add_eos
    /// flags, which tokenizer.json's post-processor also carries).
    private static func tokenizerConfig(_ tokenizer: BPETokenizer, maxLength: Int) -> [String: Any] {
        var config: [String: Any] = [
            "tokenizer_class": "Qwen2Tokenizer", "model_max_length": maxLength, "clean_up_tokenization_spaces": false,
            "add_bos_token": tokenizer.addBos, "add_eos_token": tokenizer.addEos,
        ]
        let ids = tokenizer.specialTokenIds
        for (key, id) in [("bos_token", ids.bos), ("eos_token", ids.eos), ("pad_token", ids.pad ?? ids.eos), ("unk_token", ids.unknown)] {
            if let text = id.flatMap(tokenizer.tokenText) { config[key] = text }
        }
        if let template = tokenizer.chatTemplate { config["chat_template"] = template }
        return config
    }

    static func writeJSON(_ object: Any, to path: String) throws {
        try AtomicFile.write(JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]), to: path)
    }
}
