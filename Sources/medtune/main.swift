import ArgumentParser
import MedtuneCore

struct Medtune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medtune",
        abstract: "Fine-tune Qwen-style LLMs with LoRA on CPU, compare base and tuned answers, score them with BERTScore.",
        subcommands: [
            InspectCommand.self,
        ]
    )
}

Medtune.main()
