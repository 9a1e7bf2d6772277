import ArgumentParser

/// Temporary top-level entry `medtune bench-train` for `BenchTrainCommand`.
struct BenchTrainEntry: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-train", abstract: "Tokens/s of a full LoRA training step.",
                                                    subcommands: [BenchTrainCommand.self], defaultSubcommand: BenchTrainCommand.self)
}

struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Tokens/s of a full LoRA training step.")
}
