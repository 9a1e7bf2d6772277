import Foundation

/// Programs the tests run beside medtune: the reference Python stack and llama.cpp's tools.
public enum ExternalProgram {
    /// Runs `program` to completion with its output (stdout and stderr together, or stdout alone
    /// with `standardOutputOnly`, stderr then added only when it fails) collected in files under
    /// `scratch`, so that a chatty program cannot fill a pipe and stall.
    public static func run(_ program: String, _ arguments: [String], in folder: URL? = nil, environment: [String: String] = [:],
                    standardOutputOnly: Bool = false, scratch: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        func file() throws -> (url: URL, handle: FileHandle) {
            let url = scratch.appendingPathComponent("process-output-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: url.path, contents: nil)
            return (url, try FileHandle(forWritingTo: url))
        }
        let output = try file(), errors = standardOutputOnly ? try file() : output
        process.standardOutput = output.handle
        process.standardError = errors.handle
        try process.run()
        process.waitUntilExit()
        try output.handle.close()
        if standardOutputOnly { try errors.handle.close() }
        var text = try String(contentsOf: output.url, encoding: .utf8)
        if standardOutputOnly && process.terminationStatus != 0 { text += try String(contentsOf: errors.url, encoding: .utf8) }
        return (process.terminationStatus, text)
    }

    /// `$MEDTUNE_PYTHON`, else the peers' virtualenv of scripts/fetch-peers.sh, when it imports
    /// torch, transformers and peft.
    public static func referencePython(scratch: URL) throws -> String? {
        let peers = TestPaths.repository.appendingPathComponent(".cache/peers/python/bin/python").path
        let candidates = [ProcessInfo.processInfo.environment["MEDTUNE_PYTHON"], peers].compactMap { $0 }.filter { !$0.isEmpty }
        for python in candidates where FileManager.default.isExecutableFile(atPath: python) {
            if try run(python, ["-c", "import torch, transformers, peft"], scratch: scratch).status == 0 { return python }
        }
        return nil
    }

    /// A llama.cpp tool that scripts/fetch-peers.sh built (llama-completion, llama-perplexity),
    /// or nil.
    public static func llamaTool(_ name: String) -> String? {
        let path = TestPaths.repository.appendingPathComponent(".cache/peers/bin/" + name).path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }
}
