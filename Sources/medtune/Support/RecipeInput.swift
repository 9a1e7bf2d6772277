import Foundation
import Hub
import MedtuneCore
import Trainer

/// A recipe as `train` and `export` read it: the YAML file (the built-in demo recipe without
/// one) with every key also a flag, and repository ids (owner/name[@revision]) standing for their
/// folders in the download cache.
enum RecipeInput {
    /// How errors name the recipe.
    static func source(_ config: String?) -> String { config ?? "built-in demo recipe" }

    static func resolve(config: String?, overrides: [ConfigOverride]) throws -> TrainingConfig {
        let yaml: String
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw InputError(file: config, "cannot read the recipe") }
            yaml = String(decoding: data, as: UTF8.self)
        } else {
            yaml = DemoRecipe.yaml
        }
        var resolved = try TrainingConfig.resolve(yaml: yaml, source: source(config), overrides: overrides)
        resolved.model = try Hub.resolveModel(resolved.model, allowDownload: false).path
        resolved.tokenizer = try resolved.tokenizer.map { try Hub.resolveModel($0, allowDownload: false).path }
        resolved.initAdapter = try resolved.initAdapter.map { try Hub.resolveModel($0, allowDownload: false).path }
        return resolved
    }
}
