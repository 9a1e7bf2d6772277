import ArgumentParser
import MedtuneCore

/// `medtune system`: the matrix-product setup medtune found on this machine.
struct SystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system",
        abstract: "Show the OpenBLAS build, the kernel in use and a measured sgemm rate.")

    func run() throws {
        let report = try SystemReport.measure()
        report.lines.forEach { print($0) }
    }
}
