import ArgumentParser
import Exporter
import Foundation
import MedtuneCore
import Trainer

/// `medtune export`: the recipe as a job folder for HF Trainer + PEFT under accelerate, torchrun
/// or Slurm, whose output folder comes back as a medtune run.
struct ExportCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a recipe as a job for HF Trainer + PEFT (accelerate, torchrun, Slurm; DDP or FSDP).",
        discussion: """
            The job folder holds the records tokenized and masked by medtune (data/train.jsonl, \
            data/validation.jsonl, heldout_ids.json, each epoch's order), the base model as a Hugging Face \
            folder (a GGUF base is written out in bfloat16 and read back; a folder base is referenced), \
            medtune's initial adapter, train.py with requirements.txt, accelerate configs (one GPU, DDP, \
            FSDP FULL_SHARD), launch.sh and a README. The run folder train.py writes is a medtune run: \
            medtune compare/score --adapter take it as it is. A recipe key the engine cannot express is an error.

            Every recipe key is also a flag, as for train (see medtune help train).
            """)

    @Option(help: "YAML training recipe (default: the built-in demo recipe).")
    var config: String?

    @Option(help: "Training stack to export for: \(ExportEngine.allCases.map(\.rawValue).joined(separator: ", ")).")
    var engine = ExportEngine.hfTrainer.rawValue

    @Option(help: "Job folder to write (default: data/exports/<name>); it must not exist or be empty.")
    var output: String?

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Recipe keys as flags, e.g. --lora-r 8 --max-steps 100.", valueName: "--key value"))
    var overrides: [String] = []

    func run() throws {
        guard let engine = ExportEngine(rawValue: engine) else {
            throw InputError(at: "--engine", "unknown engine '\(self.engine)' (expected one of \(ExportEngine.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let recipe = try RecipeInput.resolve(config: config, overrides: ConfigOverride.parse(overrides))
        let export = JobExport(config: recipe, source: RecipeInput.source(config), engine: engine, folder: output)
        let summary = try export.run { print($0) }
        print("wrote \(summary.folder): \(summary.data.train.count) training and \(summary.data.validation.count) validation records, \(summary.maxSteps) steps; see \(summary.folder)/README.md")
    }
}
