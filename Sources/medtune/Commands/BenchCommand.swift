import ArgumentParser

/// `medtune bench …`: throughput measurements printed beside a peer measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure medtune's speed against a reference measured in the same run.",
        subcommands: [BenchBLASCommand.self, BenchWeightsCommand.self, BenchTokenizerCommand.self, BenchGenerateCommand.self,
                      BenchTrainCommand.self, BenchScoreCommand.self, BenchGPUCommand.self])
}
