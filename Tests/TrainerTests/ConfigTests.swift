import Foundation
import MedtuneCore
import TestSupport
import Trainer
import XCTest

final class ConfigTests: XCTestCase {
    let paths = "model: m.gguf\ndata: d.jsonl\n"

    func testRecipeKeysOverrideDefaultsAndFlagsOverrideRecipe() throws {
        let yaml = paths + "lora_r: 8\nlearning_rate: 3e-4\ntarget_modules: [q_proj, k_proj]\nfields: {Question: q}\n"
        let config = try TrainingConfig.resolve(yaml: yaml, source: "x.yaml", overrides: [
            ConfigOverride(key: "learning-rate", value: "1e-5"),
            ConfigOverride(key: "target-modules", value: "v_proj,o_proj"),
            ConfigOverride(key: "gradient_checkpointing", value: "true"),
        ])
        XCTAssertEqual(config.loraR, 8)
        XCTAssertEqual(config.learningRate, 1e-5)
        XCTAssertEqual(config.targetModules, ["v_proj", "o_proj"])
        XCTAssertTrue(config.gradientCheckpointing)
        XCTAssertEqual(config.fields, ["Question": "q"])
        // Untouched keys keep the documented defaults.
        XCTAssertEqual(config.loraAlpha, 32)
        XCTAssertEqual(config.microBatchSize, 2)
        XCTAssertEqual(config.gradientAccumulationSteps, 4)
        XCTAssertEqual(config.loggingSteps, 20)
        XCTAssertEqual(config.resolvedOutputDir, "data/runs/run")
    }

    /// A flag replaces the recipe's value before either is read, so a bad recipe value that a flag
    /// overrides is no error; optional keys take null as unset, from the recipe and from flags.
    func testOnlyTheWinningValueIsRead() throws {
        let config = try TrainingConfig.resolve(yaml: paths + "lora_r: many\nlimit: 5\noutput_dir: out\n", source: "x.yaml", overrides: [
            ConfigOverride(key: "lora-r", value: "4"),
            ConfigOverride(key: "limit", value: "null"),
            ConfigOverride(key: "output-dir", value: "~"),
        ])
        XCTAssertEqual(config.loraR, 4)
        XCTAssertNil(config.limit)
        XCTAssertNil(config.outputDir)
        // YAML's own forms: a hexadecimal integer, a YAML 1.1 boolean, a number read as a name.
        let typed = try TrainingConfig.resolve(yaml: paths + "seed: 0x10\nshuffle: no\nname: 123\n")
        XCTAssertEqual(typed.seed, 16)
        XCTAssertFalse(typed.shuffle)
        XCTAssertEqual(typed.name, "123")
    }

    func testResolvedYAMLReadsBackToTheSameConfig() throws {
        var config = try TrainingConfig.resolve(yaml: paths + "max_steps: 7\nlimit: 40\n")
        config.outputDir = "out/x"
        let text = try config.yaml()
        for key in TrainingConfig.CodingKeys.allCases { XCTAssertTrue(text.contains("\(key.rawValue):"), key.rawValue) }
        XCTAssertEqual(try TrainingConfig.resolve(yaml: text), config)
    }

    /// Text keys take a flag's value literally, braces and all.
    func testTemplateFlagsAreTakenLiterally() throws {
        let config = try TrainingConfig.resolve(yaml: "model: m.gguf\ndata: d.jsonl\n", overrides: [
            ConfigOverride(key: "prompt-template", value: "{Question}\n"), ConfigOverride(key: "analysis-template", value: "{Complex_CoT}: [x]"),
            ConfigOverride(key: "name", value: "123"),
        ])
        XCTAssertEqual(config.promptTemplate, "{Question}\n")
        XCTAssertEqual(config.analysisTemplate, "{Complex_CoT}: [x]")
        XCTAssertEqual(config.name, "123")
    }

    func testCommandLineOverridesParse() throws {
        let parsed = try ConfigOverride.parse(["--lora-r", "4", "--shuffle=false", "--gradient-checkpointing", "--limit", "10"])
        XCTAssertEqual(parsed, [ConfigOverride(key: "lora-r", value: "4"), ConfigOverride(key: "shuffle", value: "false"),
                                ConfigOverride(key: "gradient-checkpointing", value: "true"), ConfigOverride(key: "limit", value: "10")])
        XCTAssertThrowsError(try ConfigOverride.parse(["stray"]))
    }

    func testBadValuesAreClearErrorsNamingTheKey() {
        func message(_ yaml: String, _ overrides: [ConfigOverride] = []) -> String {
            do { _ = try TrainingConfig.resolve(yaml: paths + yaml, source: "c.yaml", overrides: overrides); return "no error" } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message("lerning_rate: 1\n"), "c.yaml: line 3: unknown key 'lerning_rate' (did you mean learning_rate?)")
        XCTAssertEqual(message("", [ConfigOverride(key: "lora-rank", value: "3")]), "--lora-rank: unknown key 'lora_rank' (did you mean lora_r?)")
        XCTAssertEqual(message("lora_r: 0\n"), "c.yaml: key lora_r: must be a positive integer, got 0")
        XCTAssertEqual(message("lora_r: 4\n", [ConfigOverride(key: "lora-r", value: "0")]), "--lora-r: must be a positive integer, got 0")
        XCTAssertEqual(message("", [ConfigOverride(key: "lora-dropout", value: "high")]), "--lora-dropout: expected a number")
        XCTAssertEqual(message("lora_r: -2\n"), "c.yaml: key lora_r: must be a positive integer, got -2")
        XCTAssertEqual(message("lora_r: many\n"), "c.yaml: key lora_r: expected an integer")
        XCTAssertEqual(message("target_modules: [q_proj, qkv]\n"),
                       "c.yaml: key target_modules: unknown module 'qkv' (expected any of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)")
        XCTAssertEqual(message("loss_on: prompt\n"), "c.yaml: key loss_on: invalid value (expected one of all, after_prompt, answer_only)")
        XCTAssertEqual(message("validation_count: 3\nvalidation_fraction: 0.1\n"),
                       "c.yaml: key validation_fraction: give validation_count or validation_fraction, not both")
        XCTAssertEqual(message("prompt_template: \"Q: {Question\"\n"), "c.yaml: key prompt_template: unclosed '{' in \"Q: {Question\"")
        XCTAssertThrowsError(try TrainingConfig.resolve(yaml: "- a\n- b\n", source: "c.yaml")) { error in
            XCTAssertEqual("\(error)", "c.yaml: expected a mapping of keys to values")
        }
        XCTAssertEqual((try? TrainingConfig.resolve(yaml: "lora_r: 4\n")).map { _ in "" }, nil, "model and data are required")
    }

    /// Every key has a one-line description, shown by --help and listed in configs/README.md.
    func testEveryKeyIsDocumented() throws {
        let readme = try String(contentsOf: TestPaths.repository.appendingPathComponent("configs/README.md"), encoding: .utf8)
        let reference = TrainingConfig.keyReference
        for key in TrainingConfig.CodingKeys.allCases {
            XCTAssertFalse(TrainingConfig.keys[key]?.doc.isEmpty ?? true, key.rawValue)
            XCTAssertTrue(readme.contains("`\(key.rawValue)`"), "configs/README.md lacks \(key.rawValue)")
            XCTAssertTrue(reference.contains("--\(key.rawValue.replacingOccurrences(of: "_", with: "-")) "), key.rawValue)
        }
    }

    func testShippedRecipesResolveAndTheEmbeddedDemoIsTheShippedFile() throws {
        let configs = TestPaths.repository.appendingPathComponent("configs")
        let demo = try String(contentsOf: configs.appendingPathComponent("demo-qwen2.5-coder-0.5b.yaml"), encoding: .utf8)
        XCTAssertEqual(DemoRecipe.yaml, demo)
        let demoConfig = try TrainingConfig.resolve(yaml: demo)
        XCTAssertEqual(demoConfig.model, ".cache/assets/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
        XCTAssertEqual(demoConfig.data, "data/medical_demo.jsonl")

        let tutorial = try TrainingConfig.resolve(yaml: String(contentsOf: configs.appendingPathComponent("tutorial-deepseek-r1-distill-qwen-7b.yaml"), encoding: .utf8))
        XCTAssertEqual(tutorial.loraR, 16)
        XCTAssertEqual(tutorial.loraAlpha, 32)
        XCTAssertEqual(tutorial.loraDropout, 0.05)
        XCTAssertEqual(tutorial.targetModules, ["q_proj", "v_proj"])
        XCTAssertEqual(tutorial.limit, 1500)
        XCTAssertEqual(tutorial.microBatchSize, 2)
        XCTAssertEqual(tutorial.gradientAccumulationSteps, 4)
        XCTAssertEqual(tutorial.epochs, 3)
        XCTAssertEqual(tutorial.learningRate, 3e-4)
        XCTAssertEqual(tutorial.optimizer, .adamw)
        XCTAssertEqual(tutorial.loggingSteps, 20)
        XCTAssertEqual(tutorial.maxLength, 512)
    }

    func testADeviceThatIsNotOneIsRefusedByKey() {
        var config = TrainingConfig()
        config.model = "m.gguf"; config.data = "d.jsonl"
        config.device = "gpu"
        XCTAssertThrowsError(try config.validate(source: "recipe.yaml")) { error in
            XCTAssertEqual("\(error)", "recipe.yaml: key device: expected auto, cpu, cuda or cuda:N, got 'gpu'")
        }
        config.device = "cuda:1"
        XCTAssertNoThrow(try config.validate(source: "recipe.yaml"))
    }
}

final class ResumeConfigTests: XCTestCase {
    func testResumedRunKeepsItsSettingsButMayChangeWhatItLogs() throws {
        let saved = Fixture.config { $0.fields = ["Question": "q", "Response": "r", "Complex_CoT": "c"] }
        XCTAssertEqual(try TrainingJob.resumedConfig(saved: saved, requested: nil, folder: "run"), saved)
        var requested = saved
        requested.fields = ["Complex_CoT": "c", "Response": "r", "Question": "q"]
        requested.loggingSteps = 1
        requested.saveSteps = 7
        let resumed = try TrainingJob.resumedConfig(saved: saved, requested: requested, folder: "run")
        XCTAssertEqual(resumed.loggingSteps, 1)
        XCTAssertEqual(resumed.saveSteps, 7)
        requested.loraR = 4
        XCTAssertThrowsError(try TrainingJob.resumedConfig(saved: saved, requested: requested, folder: "run")) { error in
            XCTAssertEqual("\(error)", "run/config.yaml: key lora_r: the run was started with 16, not 4; a resumed run keeps its settings (or start again with --overwrite)")
        }
    }
}
