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
            targetModules = Projection.allCases.map(\.rawValue).filter { single.contains($0) }
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
        for target in targetModules where Projection(rawValue: target) == nil {
            throw InputError(file: path, at: "target_modules", "'\(target)' is not a Qwen2 projection (supported: \(Projection.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    /// The config of adapters as `spec` describes them.
    public init(_ spec: LoRASpec, baseModelNameOrPath: String?) {
        self.init(r: spec.rank, loraAlpha: spec.alpha, targetModules: spec.targets.map(\.rawValue), loraDropout: spec.dropout,
                  useRSLoRA: spec.rsLoRA, baseModelNameOrPath: baseModelNameOrPath)
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

    /// Attaches the adapter in `directory` to the model in place of any it had. Every tensor must
    /// name a projection of this model with the right shape, and every targeted projection must
    /// have both matrices; anything else is refused before the model is touched.
    /// `dropout` replaces the file's lora_dropout (a run that continues from the adapter).
    @discardableResult
    public static func load<Model: LoRAModel>(_ directory: String, into model: Model, dropout: Double? = nil) throws -> PEFTAdapterConfig {
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
        var attachments: [(site: AdapterSite, adapter: LoRAAdapter<Model.Element>)] = []
        var used = Set<String>()
        for site in model.sites {
            let aName = site.tensorName(.a), bName = site.tensorName(.b)
            let aEntry = byName[aName], bEntry = byName[bName]
            if aEntry == nil && bEntry == nil { continue }
            guard let aEntry, let bEntry else {
                throw InputError(file: weightsPath, at: "tensor \(aEntry == nil ? aName : bName)", "missing (its pair is present)")
            }
            let projection = site.projection.rawValue
            guard config.targetModules.contains(projection) else {
                throw InputError(file: weightsPath, at: "tensor \(aName)", "\(projection) is not in target_modules \(config.targetModules)")
            }
            let (inFeatures, outFeatures) = model.features(site)
            guard aEntry.shape == [config.r, inFeatures] else {
                throw InputError(file: weightsPath, at: "tensor \(aName)", "shape \(aEntry.shape) does not fit this model (expected [\(config.r), \(inFeatures)]): the adapter was made for another model")
            }
            guard bEntry.shape == [outFeatures, config.r] else {
                throw InputError(file: weightsPath, at: "tensor \(bName)", "shape \(bEntry.shape) does not fit this model (expected [\(outFeatures), \(config.r)]): the adapter was made for another model")
            }
            let a: Tensor<Model.Element> = try file.tensor(named: aName).tensor(Model.Element.self)
            let b: Tensor<Model.Element> = try file.tensor(named: bName).tensor(Model.Element.self)
            attachments.append((site, LoRAAdapter(a: a, b: b, alpha: config.loraAlpha, rsLoRA: config.useRSLoRA,
                                                  dropout: dropout ?? config.loraDropout)))
            used.formUnion([aName, bName])
        }
        if let stray = byName.keys.sorted().first(where: { !used.contains($0) }) {
            throw InputError(file: weightsPath, at: "tensor \(stray)", "does not name a LoRA matrix of a projection of this model (\(model.layerCount) layers)")
        }
        guard !attachments.isEmpty else { throw InputError(file: weightsPath, "holds no LoRA matrices") }
        model.attach(attachments)
        return config
    }

    /// Writes the model's adapters in PEFT's format (float32), each file under a temporary name
    /// first. adapter_config.json describes the adapters as they are (`LoRAModel.loraSpec`).
    public static func save<Model: LoRAModel>(_ model: Model, baseModelNameOrPath: String?, to directory: String) throws {
        guard let spec = model.loraSpec else { throw InputError(file: directory, "the model has no LoRA adapter to save") }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for (site, adapter) in model.attachedAdapters {
            try writer.add(site.tensorName(.a), tensor: adapter.a)
            try writer.add(site.tensorName(.b), tensor: adapter.b)
        }
        try writer.write(to: (directory as NSString).appendingPathComponent(weightsFile))
        let config = PEFTAdapterConfig(spec, baseModelNameOrPath: baseModelNameOrPath)
        let json = try JSONSerialization.data(withJSONObject: config.json(), options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(json, to: (directory as NSString).appendingPathComponent(configFile))
    }
}
