import ArgumentParser
import MedtuneCore

/// Subcommands whose implementation has not landed yet: they exist so scripts and help text are
/// stable, and fail with a clear message.
struct NotYetAvailable: MedtuneError {
    var command: String
    var description: String { "medtune \(command) is not yet available in this build" }
}

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "score", abstract: "Score answers against references with BERTScore.")
    func run() throws { throw NotYetAvailable(command: "score") }
}
