import Foundation

/// medtune's cache folder, shared by everything it keeps between runs (downloads under `hub/`,
/// compiled GPU kernels under `cuda-kernels/`): `MEDTUNE_HOME`, else `~/.cache/medtune`.
public enum CacheFolder {
    public static func root(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["MEDTUNE_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        let user = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: user).appendingPathComponent(".cache/medtune")
    }
}
