import Foundation
import MedtuneCore

/// Entry points for commands that take a model as a path or as a repository id.
public enum Hub {
    /// The hub used when a repository id has to be downloaded: MEDTUNE_HUB_SOURCE
    /// (`huggingface` or `modelscope`), else ModelScope.
    public static func preferredSource(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> HubSource {
        environment["MEDTUNE_HUB_SOURCE"].flatMap { HubSource(rawValue: $0.lowercased()) } ?? .modelscope
    }

    /// A local file or folder for `pathOrRepoID`.
    ///
    /// An existing path is returned as it is. Otherwise the text is read as `owner/name` or
    /// `owner/name@revision` and looked up in the download cache (of either hub); when it is not
    /// there and `allowDownload` is set (and HF_HUB_OFFLINE is not), the whole repository is
    /// downloaded from the preferred hub.
    public static func resolveModel(_ pathOrRepoID: String, allowDownload: Bool) throws -> URL {
        try resolveModel(pathOrRepoID, allowDownload: allowDownload, environment: ProcessInfo.processInfo.environment)
    }

    static func resolveModel(_ pathOrRepoID: String, allowDownload: Bool, environment: [String: String],
                             configure: (inout HubConfiguration) -> Void = { _ in }) throws -> URL {
        if FileManager.default.fileExists(atPath: pathOrRepoID) {
            return URL(fileURLWithPath: pathOrRepoID)
        }
        let reference: RepoReference
        do {
            reference = try RepoReference(parsing: pathOrRepoID)
        } catch {
            throw InputError(file: pathOrRepoID, "no such file or folder, and not a repository id (owner/name[@revision])")
        }
        let preferred = preferredSource(environment)
        let clients = try ([preferred] + HubSource.allCases.filter { $0 != preferred }).map { source -> HubClient in
            var configuration = try HubConfiguration.fromEnvironment(source, environment)
            configure(&configuration)
            return HubClient(configuration)
        }
        for client in clients {
            let folder = try client.cacheFolder(for: reference.id, type: .model, revision: reference.revision)
            if let cached = client.cachedDownload(at: folder) { return cached.directory }
        }
        let client = clients[0]
        let folder = try client.cacheFolder(for: reference.id, type: .model, revision: reference.revision)
        guard allowDownload else {
            throw InputError(file: pathOrRepoID, "no such file or folder, and not in the download cache (\(folder.path)); run `medtune download \(reference.id)` first")
        }
        return try client.download(DownloadRequest(repo: reference.id, revision: reference.revision)).directory
    }
}
