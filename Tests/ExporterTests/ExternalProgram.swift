import Foundation
import TestSupport

/// Programs the exporter's tests run beside medtune: the reference Python stack and llama.cpp.
enum ExternalProgram {
    /// Runs `program` to completion with its output (stdout and stderr together) collected in a
    /// file under `scratch`, so that a chatty program cannot fill a pipe and stall.
    static func run(_ program: String, _ arguments: [String], in folder: URL? = nil, environment: [String: String] = [:],
                    scratch: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = scratch.appendingPathComponent("process-output-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
    }

    /// `$MEDTUNE_PYTHON`, else the peers' virtualenv of scripts/fetch-peers.sh, when it imports
    /// torch, transformers and peft.
    static func referencePython(scratch: URL) throws -> String? {
        let peers = TestPaths.repository.appendingPathComponent(".cache/peers/python/bin/python").path
        let candidates = [ProcessInfo.processInfo.environment["MEDTUNE_PYTHON"], peers].compactMap { $0 }.filter { !$0.isEmpty }
        for python in candidates where FileManager.default.isExecutableFile(atPath: python) {
            if try run(python, ["-c", "import torch, transformers, peft"], scratch: scratch).status == 0 { return python }
        }
        return nil
    }
}
