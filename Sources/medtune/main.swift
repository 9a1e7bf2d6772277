import ArgumentParser
import Foundation
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
            GenerateCommand.self,
            DownloadCommand.self,
            InspectCommand.self,
            TokenizeCommand.self,
            BenchCommand.self,
        ]
    )
}

// medtune's own errors are one line naming the file and the problem; usage errors and help are
// ArgumentParser's.
do {
    var command = try Medtune.parseAsRoot()
    try command.run()
} catch let error as MedtuneError {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
} catch {
    Medtune.exit(withError: error)
}
