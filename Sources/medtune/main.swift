import ArgumentParser
import MedtuneCore

struct Medtune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medtune",
        abstract: "Fine-tune Qwen-style LLMs with LoRA on CPU, compare base and tuned answers, score them with BERTScore.",
        subcommands: [
            TrainCommand.self,
            BenchTrainEntry.self,
            CompareCommand.self,
            ScoreCommand.self,
            BenchCommand.self,
            TokenizeCommand.self,
            SystemCommand.self,
        ]
    )
}

Medtune.main()
