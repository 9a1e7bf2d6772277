import Foundation
import MedtuneCore
import TestSupport
import Transformer

/// The real Qwen2.5-Coder-0.5B GGUF with a random, non-zero PEFT adapter (r 8, alpha 16) on q, v
/// and down of every layer, saved as a PEFT folder: large enough to move the logits clearly,
/// small enough to keep the base's answers readable.
enum RealBaseAdapter {
    static func make(savedTo adapter: String) throws -> (base: String, model: Qwen2Model<Float>) {
        let base = try TestPaths.require(TestPaths.qwenGGUF).path
        let model = try Qwen2Model<Float>.load(path: base).model
        var rng = SplitMix64(seed: 41)
        func gaussian(_ dims: [Int], _ scale: Float) -> Tensor<Float> { Tensor(dims, (0..<dims.reduce(1, *)).map { _ in scale * Float(rng.nextGaussian()) }) }
        model.attach(model.sites.filter { [.q, .v, .down].contains($0.projection) }.map { site in
            let (inFeatures, outFeatures) = model.features(site)
            return (site, LoRAAdapter(a: gaussian([8, inFeatures], 1 / Float(inFeatures).squareRoot()), b: gaussian([outFeatures, 8], 0.01), alpha: 16))
        })
        try PEFTAdapter.save(model, baseModelNameOrPath: base, to: adapter)
        return (base, model)
    }
}
