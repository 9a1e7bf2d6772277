import Foundation
import MedtuneCore
import ModelFiles

/// LoRA adapters in PEFT's on-disk format: `adapter_config.json` and `adapter_model.safetensors`
/// with tensors named `base_model.model.<module>.lora_A.weight` [r × in] and `….lora_B.weight` [out × r].
public struct PEFTAdapterConfig: Codable, Equatable, Sendable {
    public var r: Int
    public var loraAlpha: Double
    public var targetModules: [String]
    public var loraDropout: Double
    public var useRSLoRA: Bool
    public var fanInFanOut: Bool
    public var baseModelNameOrPath: String?

    public static let supportedTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    public init(r: Int, loraAlpha: Double, targetModules: [String], loraDropout: Double = 0, useRSLoRA: Bool = false,
                baseModelNameOrPath: String? = nil) {
        self.r = r; self.loraAlpha = loraAlpha; self.targetModules = targetModules; self.loraDropout = loraDropout
        self.useRSLoRA = useRSLoRA; fanInFanOut = false; self.baseModelNameOrPath = baseModelNameOrPath
    }

    /// Reads and checks an adapter_config.json.
    public init(file path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw InputError(file: path, "cannot read the adapter config (\(error.localizedDescription))")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw InputError(file: path, "not a JSON object")
        }
        func number(_ key: String) throws -> Double {
            guard let value = json[key] as? NSNumber else { throw InputError(file: path, at: key, "missing or not a number") }
            return value.doubleValue
        }
        if let type = json["peft_type"] as? String, type.uppercased() != "LORA" {
            throw InputError(file: path, at: "peft_type", "'\(type)' adapters are not supported (only LORA)")
        }
        r = Int(try number("r"))
        loraAlpha = try number("lora_alpha")
        loraDropout = (json["lora_dropout"] as? NSNumber)?.doubleValue ?? 0
        useRSLoRA = (json["use_rslora"] as? Bool) ?? false
        fanInFanOut = (json["fan_in_fan_out"] as? Bool) ?? false
        baseModelNameOrPath = json["base_model_name_or_path"] as? String
        if let list = json["target_modules"] as? [String] {
            targetModules = list
        } else if let single = json["target_modules"] as? String {
            targetModules = Self.supportedTargets.filter { single.contains($0) }
        } else {
            throw InputError(file: path, at: "target_modules", "missing")
        }
        guard r > 0 else { throw InputError(file: path, at: "r", "must be positive, got \(r)") }
        if fanInFanOut { throw InputError(file: path, at: "fan_in_fan_out", "true is for GPT-2-style Conv1D layers; Qwen2 uses Linear") }
        // Keys that change what the adapter computes: loading past them would give another model.
        if json["use_dora"] as? Bool == true {
            throw InputError(file: path, "use_dora is true; medtune applies plain LoRA only")
        }
        if let layers = json["layers_to_transform"], !(layers is NSNull) {
            throw InputError(file: path, "layers_to_transform is set; medtune adapts every layer")
        }
        if let modules = json["modules_to_save"], !(modules is NSNull), (modules as? [Any])?.isEmpty != true {
            throw InputError(file: path, "modules_to_save is set; medtune trains and loads LoRA matrices only")
        }
        if let bias = json["bias"], bias as? String != "none" {
            throw InputError(file: path, "bias is \(bias); medtune trains no biases (only \"none\" is supported)")
        }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let pattern = json[key] as? [String: Any], !pattern.isEmpty {
                throw InputError(file: path, at: key, "per-module ranks or alphas are not supported")
            }
        }
        for target in targetModules where !Self.supportedTargets.contains(target) {
            throw InputError(file: path, at: "target_modules", "'\(target)' is not a Qwen2 projection (supported: \(Self.supportedTargets.joined(separator: ", ")))")
        }
    }

    func json() -> [String: Any] {
        [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": loraAlpha,
            "lora_dropout": loraDropout, "target_modules": targetModules, "use_rslora": useRSLoRA,
            "fan_in_fan_out": false, "bias": "none", "inference_mode": true, "init_lora_weights": true,
            "base_model_name_or_path": baseModelNameOrPath ?? NSNull(), "modules_to_save": NSNull(),
        ]
    }
}

public enum PEFTAdapter {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"

    static func tensorName(_ module: String, _ matrix: String) -> String { "base_model.model.\(module).lora_\(matrix).weight" }

    /// Attaches the adapter in `directory` to the model's projections. Every tensor must name a
    /// projection of this model with the right shape, and every targeted projection must have both
    /// matrices; anything else is refused before the model is touched.
    public static func load<T: Scalar>(_ directory: String, into model: Qwen2Model<T>, dropout: Double? = nil) throws -> PEFTAdapterConfig {
        let configPath = (directory as NSString).appendingPathComponent(configFile)
        let weightsPath = (directory as NSString).appendingPathComponent(weightsFile)
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw InputError(file: directory, "not a PEFT adapter folder: \(configFile) is missing")
        }
        guard FileManager.default.fileExists(atPath: weightsPath) else {
            let hasBin = FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("adapter_model.bin"))
            throw InputError(file: directory, hasBin ? "adapter_model.bin (pickle) is not supported; save the adapter with safe_serialization=True"
                                                    : "\(weightsFile) is missing")
        }
        let config = try PEFTAdapterConfig(file: configPath)
        let file = try SafetensorsFile(path: weightsPath)
        var byName: [String: TensorEntry] = [:]
        for entry in file.tensorEntries { byName[entry.name] = entry }
        var attachments: [(LoRALinear<T>, LoRAAdapter<T>)] = []
        var used = Set<String>()
        for layer in model.layers {
            for (projection, linear) in layer.projections {
                let module = Qwen2Model<T>.modulePath(layer: layer.index, projection: projection)
                let aName = tensorName(module, "A"), bName = tensorName(module, "B")
                let aEntry = byName[aName], bEntry = byName[bName]
                if aEntry == nil && bEntry == nil { continue }
                guard let aEntry, let bEntry else {
                    throw InputError(file: weightsPath, at: "tensor \(aEntry == nil ? aName : bName)", "missing (its pair is present)")
                }
                guard config.targetModules.contains(projection) else {
                    throw InputError(file: weightsPath, at: "tensor \(aName)", "\(projection) is not in target_modules \(config.targetModules)")
                }
                guard aEntry.shape == [config.r, linear.inFeatures] else {
                    throw InputError(file: weightsPath, at: "tensor \(aName)", "shape \(aEntry.shape) does not fit this model (expected [\(config.r), \(linear.inFeatures)]): the adapter was made for another model")
                }
                guard bEntry.shape == [linear.outFeatures, config.r] else {
                    throw InputError(file: weightsPath, at: "tensor \(bName)", "shape \(bEntry.shape) does not fit this model (expected [\(linear.outFeatures), \(config.r)]): the adapter was made for another model")
                }
                let a: Tensor<T> = try file.tensor(named: aName).tensor(T.self)
                let b: Tensor<T> = try file.tensor(named: bName).tensor(T.self)
                attachments.append((linear, LoRAAdapter(a: a, b: b, alpha: config.loraAlpha, rsLoRA: config.useRSLoRA,
                                                        dropout: dropout ?? config.loraDropout)))
                used.formUnion([aName, bName])
            }
        }
        if let stray = byName.keys.sorted().first(where: { !used.contains($0) }) {
            throw InputError(file: weightsPath, at: "tensor \(stray)", "does not name a LoRA matrix of a projection of this model (\(model.layers.count) layers)")
        }
        guard !attachments.isEmpty else { throw InputError(file: weightsPath, "holds no LoRA matrices") }
        for (linear, adapter) in attachments { linear.adapter = adapter }
        return config
    }

    /// Writes the model's adapters in PEFT's format (float32), each file under a temporary name first.
    public static func save<T: Scalar>(_ model: Qwen2Model<T>, config: PEFTAdapterConfig, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for (module, adapter) in model.adapters {
            try writer.add(tensorName(module, "A"), tensor: adapter.a)
            try writer.add(tensorName(module, "B"), tensor: adapter.b)
        }
        try writer.write(to: (directory as NSString).appendingPathComponent(weightsFile))
        let json = try JSONSerialization.data(withJSONObject: config.json(), options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(json, to: (directory as NSString).appendingPathComponent(configFile))
    }
}
