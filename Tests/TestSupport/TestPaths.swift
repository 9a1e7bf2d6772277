import Foundation

/// Where tests find their inputs: golden files in the repository, the real models fetched by
/// `scripts/fetch-assets.sh`, and the public data files in `../shared/data`.
public enum TestPaths {
    /// The package root, found from this file's location.
    public static let repository: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Checked-in golden values: `Tests/Golden/<name>`.
    public static func golden(_ name: String) -> URL {
        repository.appendingPathComponent("Tests/Golden").appendingPathComponent(name)
    }

    /// The asset cache (`MEDTUNE_ASSETS`, else `.cache/assets` in the repository).
    public static var assets: URL {
        if let dir = ProcessInfo.processInfo.environment["MEDTUNE_ASSETS"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return repository.appendingPathComponent(".cache/assets")
    }

    public static var qwenGGUF: URL { assets.appendingPathComponent("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf") }
    public static var miniLM: URL { assets.appendingPathComponent("all-MiniLM-L6-v2") }
    public static var deepSeekR1Header: URL { assets.appendingPathComponent("deepseek-r1-distill-qwen-7b-part0000.gguf") }

    /// `../shared/data` beside the repository.
    public static var sharedData: URL {
        repository.deletingLastPathComponent().appendingPathComponent("shared/data")
    }

    /// A file that must exist for the test to mean anything: a missing asset fails the test with
    /// a message saying how to fetch it, rather than skipping silently.
    public static func require(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MissingAsset(path: url.path)
        }
        return url
    }

    public struct MissingAsset: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "\(path) is missing; run scripts/fetch-assets.sh" }
    }

    /// A fresh temporary directory, removed by the caller.
    public static func temporaryDirectory(_ prefix: String = "medtune-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
