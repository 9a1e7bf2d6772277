import MedtuneCore
import Transformer

/// Puts LoRA adapters on a model's target projections and names their tensors as PEFT does.
public enum LoRASetup {
    /// Fresh adapters with PEFT's initialisation (A Kaiming-uniform, B zero) on every target
    /// projection of every layer, drawn in module order from `seed`; other projections lose any
    /// adapter they had, so the trained set is exactly the configured one.
    public static func attach<T: Scalar>(to model: Qwen2Model<T>, config: TrainingConfig) {
        var rng = SplitMix64(seed: config.seed ^ 0x10_7A_1417)
        for layer in model.layers {
            for projection in layer.projections {
                guard config.targetModules.contains(projection.name) else {
                    projection.linear.adapter = nil
                    continue
                }
                projection.linear.adapter = LoRAAdapter(inFeatures: projection.linear.inFeatures, outFeatures: projection.linear.outFeatures,
                                                        rank: config.loraR, alpha: config.loraAlpha, rsLoRA: config.useRSLoRA,
                                                        dropout: config.loraDropout, rng: &rng)
            }
        }
    }

    /// PEFT's tensor name of an adapter matrix: `base_model.model.<module path>.lora_A.weight`.
    public static func tensorName(module: String, matrix: String) -> String {
        "base_model.model.\(module).lora_\(matrix).weight"
    }

    /// Every adapter matrix with its gradient, in module order (A before B).
    public static func parameters<T: Scalar>(of model: Qwen2Model<T>) -> [TrainableParameter<T>] {
        model.adapters.flatMap { entry in
            [TrainableParameter(name: tensorName(module: entry.name, matrix: "A"), value: entry.adapter.a, grad: entry.adapter.gradA),
             TrainableParameter(name: tensorName(module: entry.name, matrix: "B"), value: entry.adapter.b, grad: entry.adapter.gradB)]
        }
    }
}
