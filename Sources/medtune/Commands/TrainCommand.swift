import ArgumentParser
import Foundation
import MedtuneCore
import Trainer

/// `medtune train`: LoRA fine-tuning from a YAML recipe, every key of which is also a flag.
struct TrainCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a model with LoRA from a YAML recipe.",
        discussion: """
            Without --config, runs the built-in demo recipe (configs/demo-qwen2.5-coder-0.5b.yaml): \
            Qwen2.5-Coder-0.5B-Instruct on data/medical_demo.jsonl, a few minutes on two cores.

            The run folder (output_dir, default data/runs/<name>) receives the adapter in PEFT's format \
            (adapter_config.json, adapter_model.safetensors), heldout_ids.json, config.yaml, metrics.jsonl, \
            loss_curve.png and loss_curve.svg, checkpoint-<step>/ folders and checkpoint-best/. \
            Ctrl-C, SIGTERM or SIGHUP writes a checkpoint and stops (exit status 130, 143 or 129); \
            --resume continues exactly where it stopped, also from a run stopped before its first checkpoint.

            Every recipe key is also a flag (--key value, --key=value, or a bare --key for true; \
            lists as a,b,c), applied over the recipe:

            \(TrainingConfig.keyReference)
            """)

    @Option(help: "YAML training recipe (default: the built-in demo recipe).")
    var config: String?

    @Flag(help: "Continue the run in the output folder from its latest checkpoint.")
    var resume = false

    @Flag(help: "Start again in an output folder that holds an earlier run, replacing it.")
    var overwrite = false

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Recipe keys as flags, e.g. --learning-rate 1e-4 --target-modules q_proj,v_proj.", valueName: "--key value"))
    var overrides: [String] = []

    func run() throws {
        if resume && overwrite { throw InputError(at: "--resume", "--resume and --overwrite exclude each other") }
        let overrides = try ConfigOverride.parse(self.overrides)
        let resolved = try RecipeInput.resolve(config: config, overrides: overrides)
        let job: TrainingJob
        if resume {
            let saved = RunFolder(path: resolved.resolvedOutputDir).configFile
            guard let text = FileManager.default.contents(atPath: saved) else { throw InputError(file: saved, "no run to resume here") }
            let savedConfig = try TrainingConfig.resolve(yaml: String(decoding: text, as: UTF8.self), source: saved)
            // Explicit settings are checked against the run's, each resolved on the device they ask for.
            let explicit = config != nil || !overrides.isEmpty
            let source = explicit ? resolved : savedConfig
            let device = try TrainingDevice.open(source.device, matmulPrecision: source.matmulPrecision)
            let requested = explicit ? try TrainingJob(config: resolved, mode: .resume, device: device).config : nil
            let kept = try TrainingJob.resumedConfig(saved: savedConfig, requested: requested, folder: resolved.resolvedOutputDir)
            job = try TrainingJob(config: kept, mode: .resume, device: device)
        } else {
            let device = try TrainingDevice.open(resolved.device, matmulPrecision: resolved.matmulPrecision)
            job = try TrainingJob(config: resolved, mode: overwrite ? .overwrite : .fresh, device: device)
        }

        let signals = StopSignals()
        signals.install { number in
            print("\n\(StopSignals.name(number)): stopping after this step to write a checkpoint (Ctrl-C again quits at once)")
        }
        let outcome = try job.run(observer: ConsoleProgress(memory: job.device.memory), stop: signals)
        let folder = resolved.resolvedOutputDir
        switch outcome {
        case .finished(let step):
            print("finished \(step) steps: adapter, metrics.jsonl and loss_curve.png in \(folder)")
        case .interrupted(let step, let checkpoint):
            let again = (["medtune", "train"] + (config.map { ["--config", $0] } ?? []) + self.overrides + ["--resume"]).joined(separator: " ")
            print("interrupted after step \(step); checkpoint in \(checkpoint). Continue with: \(again)")
            // A stopped run is not a finished one: scripts and schedulers see the signal's status.
            throw ExitCode(StopSignals.exitStatus(signals.signalReceived ?? SIGINT))
        }
    }
}
