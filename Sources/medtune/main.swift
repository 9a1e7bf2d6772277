import ArgumentParser
import Foundation
import MedtuneCore

struct Medtune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medtune",
        abstract: "Fine-tune Qwen-style LLMs with LoRA on CPU, compare base and tuned answers, score them with BERTScore.",
        subcommands: [
            TrainCommand.self,
            ExportCommand.self,
            MergeCommand.self,
            ExportLoRACommand.self,
            PlotCommand.self,
            CompareCommand.self,
            ScoreCommand.self,
            PerplexityCommand.self,
            GenerateCommand.self,
            DownloadCommand.self,
            InspectCommand.self,
            TokenizeCommand.self,
            BenchCommand.self,
        ]
    )
}

/// A command that multiplies matrices. Process setup happens once, here at the root: OpenBLAS is
/// opened (after medtune has chosen its kernels) before the command runs, so a missing or wrong
/// library is the same one-line error for every command, and nothing below reads the environment.
protocol ComputeCommand: ParsableCommand {
    var multipliesMatrices: Bool { get }
}

extension ComputeCommand {
    var multipliesMatrices: Bool { true }
}

// medtune's own errors are one line naming the file and the problem; usage errors and help are
// ArgumentParser's.
do {
    var command = try Medtune.parseAsRoot()
    if let compute = command as? any ComputeCommand, compute.multipliesMatrices { try OpenBLAS.load() }
    try command.run()
} catch let error as MedtuneError {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
} catch let error as CocoaError {
    // A file operation that no medtune code wrapped still gets one line naming the file.
    let file = (error.userInfo[NSFilePathErrorKey] as? String) ?? error.url?.path
    FileHandle.standardError.write(Data("error: \(file.map { $0 + ": " } ?? "")\(SystemError.reason(of: error))\n".utf8))
    exit(1)
} catch {
    Medtune.exit(withError: error)
}
