import MedtuneCore
import Transformer

extension TrainingConfig {
    /// The adapters the run trains, as the configuration describes them.
    public var loraSpec: LoRASpec {
        LoRASpec(rank: loraR, alpha: loraAlpha, rsLoRA: useRSLoRA, dropout: loraDropout,
                 targets: targetModules.map { Projection(rawValue: $0)! })
    }
}

/// Makes a model ready to train as a configuration says: its training options, and LoRA
/// adapters on exactly the configured projections, fresh or from a PEFT folder.
public enum LoRASetup {
    /// Fresh adapters with PEFT's initialisation, drawn in site order from `config.seed`.
    public static func attach<Model: TrainableModel>(to model: Model, config: TrainingConfig) {
        model.gradientCheckpointing = config.gradientCheckpointing
        var rng = SplitMix64(seed: config.seed ^ 0x10_7A_1417)
        model.attachFresh(config.loraSpec, rng: &rng)
    }

    /// The adapter of a PEFT folder (a checkpoint's, or init_adapter), which must be the one the
    /// configuration describes: same rank, alpha, rsLoRA and target modules. Its dropout is the run's.
    public static func attach<Model: TrainableModel>(to model: Model, config: TrainingConfig, from directory: String) throws {
        model.gradientCheckpointing = config.gradientCheckpointing
        let expected = config.loraSpec
        try PEFTAdapter.load(directory, into: model, dropout: expected.dropout)
        let saved = model.loraSpec!, file = directory + "/" + PEFTAdapter.configFile
        if saved.rank != expected.rank { throw InputError(file: file, "the adapter has r = \(saved.rank), the run's lora_r is \(expected.rank)") }
        if saved.alpha != expected.alpha {
            throw InputError(file: file, "the adapter has lora_alpha = \(saved.alpha), the run's lora_alpha is \(expected.alpha)")
        }
        if saved.rsLoRA != expected.rsLoRA { throw InputError(file: file, "the adapter's use_rslora differs from the run's") }
        if saved.targets != expected.targets {
            throw InputError(file: file, "the adapter targets \(saved.targets.map(\.rawValue).joined(separator: ", ")), the run targets \(expected.targets.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// Every adapter matrix with its gradient, in site order (A before B), named as PEFT names it.
    public static func parameters<Model: LoRAModel>(of model: Model) -> [TrainableParameter<Model.Element>] {
        model.attachedAdapters.flatMap { site, adapter in
            [TrainableParameter(name: site.tensorName(.a), value: adapter.a, grad: adapter.gradA),
             TrainableParameter(name: site.tensorName(.b), value: adapter.b, grad: adapter.gradB)]
        }
    }
}
