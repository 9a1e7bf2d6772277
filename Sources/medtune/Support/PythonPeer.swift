import Foundation
import MedtuneCore
import Subprocess

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

/// A peer program run to its end.
struct PeerRun {
    var succeeded: Bool
    /// `exit N` or `signal N`.
    var status: String
    var output: [UInt8]
    /// The last line the program wrote to standard error, which usually says why it failed.
    var lastErrorLine: String?
}

enum PeerProcess {
    /// Runs `program` (a path, or a name looked up on PATH) with the environment of this process
    /// changed by `environment` (nil removes a variable). Standard error is read as it comes, so
    /// a chatty peer can never fill a pipe and stall, and only its end is kept. Throws a
    /// `SystemError` when the program cannot be started (or floods standard output).
    static func run(_ program: String, _ arguments: [String], environment: [String: String?] = [:]) throws -> PeerRun {
        let executable: Executable = program.contains("/") ? .path(.init(program)) : .name(program)
        let changes = Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), $0.value) })
        do {
            return try blocking {
                let result = try await Subprocess.run(
                    executable, arguments: Arguments(arguments), environment: .inherit.updating(changes),
                    input: .none, output: .bytes(limit: 64 << 20), error: .sequence
                ) { execution in
                    var tail: [UInt8] = []
                    for try await buffer in execution.standardError {
                        buffer.withUnsafeBytes { tail.append(contentsOf: $0) }
                        if tail.count > 16_384 { tail.removeFirst(tail.count - 16_384) }
                    }
                    return tail
                }
                let status: String
                switch result.terminationStatus {
                case .exited(let code): status = "exit \(code)"
                case .signaled(let signal): status = "signal \(signal)"
                }
                let lastLine = String(decoding: result.closureResult, as: UTF8.self).split(separator: "\n").last.map(String.init)
                return PeerRun(succeeded: result.terminationStatus.isSuccess, status: status, output: result.standardOutput,
                               lastErrorLine: lastLine)
            }
        } catch {
            throw SystemError("cannot run \(program): \(error)")
        }
    }

    /// The benchmarks are synchronous commands that run their own threads, and a peer is one
    /// step among them; waiting here for Subprocess's asynchronous API keeps them so. The caller
    /// is never a thread of Swift's concurrency pool, so blocking it cannot starve the task.
    private static func blocking<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let outcome = Outcome<T>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { outcome.result = .success(try await operation()) } catch { outcome.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try outcome.result!.get()
    }

    /// Written by the task before it signals, read by the waiting thread after.
    private final class Outcome<T>: @unchecked Sendable {
        var result: Result<T, Error>?
    }
}

/// A reference implementation run as a Python child process, for benchmarks that print
/// medtune's figures beside a peer measured in the same run: one of the scripts in
/// `scripts/peers/` (their packages pinned in `scripts/peers/requirements.txt`, installed by
/// `scripts/fetch-peers.sh python`). The interpreter is `PeerPrograms.python`; the script prints
/// one JSON value on stdout.
struct PythonPeer {
    /// The script's file name in `scripts/peers/`.
    var script: String

    static var interpreter: String { PeerPrograms.python }

    /// `$MEDTUNE_PEER_SCRIPTS`, else `scripts/peers` of the checkout the binary was built in
    /// (`.build/<configuration>/medtune`), else of the current folder.
    static var folder: URL? {
        if let explicit = ProcessInfo.processInfo.environment["MEDTUNE_PEER_SCRIPTS"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var ancestor = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.insert(ancestor, at: candidates.count - 1)
            ancestor = ancestor.deletingLastPathComponent()
        }
        return candidates.map { $0.appendingPathComponent("scripts/peers") }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// The script's JSON output, or why there is none (missing script, interpreter or package, failure).
    func run(arguments: [String], in folder: URL) throws -> (json: Any?, unavailable: String?) {
        guard let scripts = Self.folder, FileManager.default.fileExists(atPath: scripts.appendingPathComponent(script).path) else {
            return (nil, "scripts/peers/\(script) not found (run from a medtune checkout, or set MEDTUNE_PEER_SCRIPTS)")
        }
        let peer: PeerRun
        do {
            peer = try PeerProcess.run(Self.interpreter, [scripts.appendingPathComponent(script).path] + arguments)
        } catch {
            return (nil, "\(error)")
        }
        guard peer.succeeded, let json = try? JSONSerialization.jsonObject(with: Data(peer.output)) else {
            return (nil, "\(Self.interpreter): \(peer.lastErrorLine ?? peer.status)")
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
