import Foundation

/// Where the programs that benchmarks compare medtune with are found: `scripts/fetch-peers.sh`
/// installs them under `$MEDTUNE_PEERS` (default `.cache/peers`); PATH serves otherwise.
enum PeerPrograms {
    static var folder: String { environment("MEDTUNE_PEERS") ?? ".cache/peers" }

    /// `$MEDTUNE_PYTHON`, else the peers' virtualenv, else `python3` on PATH.
    static var python: String {
        environment("MEDTUNE_PYTHON") ?? installed("python/bin/python") ?? "python3"
    }

    /// llama.cpp's llama-bench: the peers' build, else the one on PATH.
    static var llamaBench: String { installed("bin/llama-bench") ?? "llama-bench" }

    private static func installed(_ relative: String) -> String? {
        let path = folder + "/" + relative
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    private static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A reference implementation run as a Python child process, for benchmarks that print
/// medtune's figures beside a peer measured in the same run. The interpreter is
/// `PeerPrograms.python`; the script prints one JSON value on stdout.
struct PythonPeer {
    var script: String

    static var interpreter: String { PeerPrograms.python }

    /// The script's JSON output, or why there is none (missing interpreter or package, failure).
    func run(arguments: [String], in folder: URL) throws -> (json: Any?, unavailable: String?) {
        let file = folder.appendingPathComponent("peer.py")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [Self.interpreter, file.path] + arguments
        // stderr goes to a file, so a chatty peer can never fill a pipe and stall.
        let errorFile = folder.appendingPathComponent("peer.stderr")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        do { try process.run() } catch { return (nil, "cannot start \(Self.interpreter)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorData = (try? Data(contentsOf: errorFile)) ?? Data()
        guard process.terminationStatus == 0, let json = try? JSONSerialization.jsonObject(with: data) else {
            let reason = String(decoding: errorData, as: UTF8.self).split(separator: "\n").last.map(String.init)
                ?? "exit \(process.terminationStatus)"
            return (nil, "\(Self.interpreter): \(reason)")
        }
        return (json, nil)
    }

    /// A fresh temporary folder for the peer's files, removed by `body`'s caller afterwards.
    static func withTemporaryFolder<R>(_ body: (URL) throws -> R) throws -> R {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medtune-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try body(folder)
    }
}

/// Resident memory of this process from /proc (zero where /proc is absent).
struct MemoryUsage {
    var resident: Double
    var peak: Double

    static func current() -> MemoryUsage {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return MemoryUsage(resident: 0, peak: 0)
        }
        func kilobytes(_ key: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.count > 1 ? (Double(fields[1]) ?? 0) * 1024 : 0
        }
        return MemoryUsage(resident: kilobytes("VmRSS:"), peak: kilobytes("VmHWM:"))
    }
}
