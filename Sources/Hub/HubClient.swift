import Foundation

/// What to download.
public struct DownloadRequest: Sendable {
    public var repo: RepoID
    public var type: RepoType
    /// Branch, tag or commit; nil means the hub's default branch.
    public var revision: String?
    /// Glob patterns over repository paths; empty means every file.
    public var include: [String]
    public var exclude: [String]
    /// Where the files go; nil means the cache folder for this repository and revision.
    public var destination: URL?

    public init(repo: RepoID, type: RepoType = .model, revision: String? = nil, include: [String] = [],
                exclude: [String] = [], destination: URL? = nil) {
        self.repo = repo
        self.type = type
        self.revision = revision
        self.include = include
        self.exclude = exclude
        self.destination = destination
    }
}

public struct DownloadResult: Sendable {
    /// The folder holding the repository's files, ready to pass as `--model`.
    public var directory: URL
    /// Repository paths of the selected files, all present and checked.
    public var files: [String]
    /// Paths fetched in this run (the others were already there and intact).
    public var downloaded: [String]
    /// Paths that were on disk but damaged or outdated, and were fetched again.
    public var replaced: [String]
    /// The commit the revision resolved to, when the hub says.
    public var commit: String?
}

/// Downloads repositories from one hub.
///
/// The folder of a finished download holds the files under their repository paths and a small
/// manifest (`.medtune-download.json`) recording what was checked, so that a later run, or an
/// offline one, knows the folder is complete without reading every file again.
public struct HubClient: Sendable {
    public let configuration: HubConfiguration
    private let api: HubAPI & Sendable

    public init(_ configuration: HubConfiguration) {
        self.configuration = configuration
        switch configuration.source {
        case .huggingface: api = HuggingFaceAPI(endpoint: configuration.endpoint)
        case .modelscope: api = ModelScopeAPI(endpoint: configuration.endpoint)
        }
    }

    /// `<cacheRoot>/<source>/<models|datasets>/<owner>/<name>/<revision>`.
    public func cacheFolder(for repo: RepoID, type: RepoType, revision: String? = nil) throws -> URL {
        let revision = try Revision.validated(revision ?? configuration.source.defaultRevision)
        // Spelled as folders, so that the URL is the same whether or not they exist yet.
        var folder = configuration.cacheRoot.appendingPathComponent(configuration.source.rawValue, isDirectory: true)
            .appendingPathComponent(type == .model ? "models" : "datasets", isDirectory: true)
        for component in repo.components { folder.appendPathComponent(component, isDirectory: true) }
        return folder.appendingPathComponent(Revision.folderName(revision), isDirectory: true)
    }

    /// The folder of a complete earlier download, if there is one.
    public func cachedDownload(at folder: URL) -> DownloadResult? {
        guard let manifest = Manifest.load(from: folder), manifest.complete,
              manifest.files.keys.allSatisfy({ FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) })
        else { return nil }
        return DownloadResult(directory: folder, files: manifest.files.keys.sorted(), downloaded: [], replaced: [], commit: manifest.commit)
    }

    public func download(_ request: DownloadRequest) throws -> DownloadResult {
        let revision = try Revision.validated(request.revision ?? configuration.source.defaultRevision)
        let folder = try request.destination ?? cacheFolder(for: request.repo, type: request.type, revision: revision)
        if configuration.offline {
            guard let cached = cachedDownload(at: folder) else {
                throw HubError.offline(repo: request.repo.description, folder: folder.path)
            }
            return cached
        }

        let progress = ProgressDisplay(output: configuration.progress, notices: configuration.notices)
        defer { progress.end() }
        let context = RepoContext(api: api, repo: request.repo, type: request.type, revision: revision,
                                  credential: configuration.token.map(api.credential), retry: configuration.retry,
                                  cancellation: CancellationFlag(), notice: progress.note)
        let (listing, selected) = try selectFiles(request, revision: revision, context: context)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw HubError.fileSystem(path: folder.path, message: "cannot create the folder")
        }
        var manifest = Manifest.load(from: folder) ?? Manifest()
        manifest.describe(source: configuration.source, repo: request.repo, type: request.type, revision: revision, commit: listing.commit)
        manifest.complete = false
        progress.begin(files: selected.map { ($0.path, $0.size) })
        let (jobs, replaced) = try plan(selected, request: request, revision: revision, folder: folder, manifest: &manifest, progress: progress)

        let outcome = transferAll(jobs, context: context, progress: progress)
        for (path, verified) in outcome.verified { manifest.files[path] = verified }
        manifest.complete = outcome.error == nil
        if let error = outcome.error {
            // Recording the finished files saves reading them again, but the failure is the news
            // (and on a full disk the record may not fit either).
            try? manifest.save(in: folder)
            throw error
        }
        try manifest.save(in: folder)
        return DownloadResult(directory: folder, files: selected.map(\.path), downloaded: jobs.map(\.remote.path),
                              replaced: replaced, commit: listing.commit)
    }

    /// Lists the repository and keeps the files the request asks for. One hostile name refuses
    /// the whole repository, before anything is written.
    private func selectFiles(_ request: DownloadRequest, revision: String, context: RepoContext) throws -> (RepoListing, [RemoteFile]) {
        let http = try makeHTTPClient()
        let listing = try api.listing(of: request.repo, type: request.type, revision: revision) {
            try context.fetchAPI($0, http: http)
        }
        for file in listing.files {
            if let problem = SafePath.problem(with: file.path) {
                throw HubError.unsafeFileName(repo: request.repo.description, name: file.path, reason: problem)
            }
        }
        let filter = FileFilter(include: request.include, exclude: request.exclude)
        let selected = listing.files.filter { filter.accepts($0.path) }
        guard !selected.isEmpty else {
            throw HubError.noMatchingFiles(repo: request.repo.description, include: request.include, exclude: request.exclude)
        }
        return (listing, selected)
    }

    /// The files that still have to be fetched; those already on disk and intact are recorded
    /// in the manifest instead.
    private func plan(_ selected: [RemoteFile], request: DownloadRequest, revision: String, folder: URL,
                      manifest: inout Manifest, progress: ProgressDisplay) throws -> (jobs: [FileJob], replaced: [String]) {
        var jobs: [FileJob] = []
        var replaced: [String] = []
        for file in selected {
            let destination = try SafePath.prepare(file.path, under: folder, repo: request.repo.description)
            switch try existingState(of: file, at: destination, recorded: manifest.files[file.path]) {
            case .intact(let verified):
                manifest.files[file.path] = verified
                progress.finish(file.path, size: verified.size, downloaded: false)
                continue
            case .replaced:
                replaced.append(file.path)
            case .missing:
                break
            }
            manifest.files[file.path] = nil
            let url = api.fileURL(of: file.path, in: request.repo, type: request.type, revision: revision)
            jobs.append(FileJob(remote: file, url: url, destination: destination))
        }
        return (jobs, replaced)
    }

    private func makeHTTPClient() throws -> HTTPClient {
        do {
            return try HTTPClient(timeouts: configuration.timeouts)
        } catch let error as TransportError {
            throw HubError.transport(url: configuration.endpoint, message: error.message)
        }
    }

    private enum ExistingState {
        case missing
        case intact(VerifiedFile)
        /// It was there but failed its checks (damaged, or from another revision) and was removed.
        case replaced
    }

    /// A file already on disk is kept if it matches the listing. One the manifest vouches for
    /// (same size and modification time) is not read again.
    private func existingState(of file: RemoteFile, at destination: URL, recorded: VerifiedFile?) throws -> ExistingState {
        let path = destination.path
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw HubError.fileSystem(path: path, message: "exists and is not a regular file")
        }
        let expected = Expectation(file)
        let modified = try modificationTime(path)
        if let recorded, recorded.size == Int64(info.st_size), recorded.modified == modified, expected.mismatch(recorded) == nil {
            return .intact(recorded)
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafePath.fileSystemError(path) }
        defer { close(fd) }
        var digest = ContentDigest(sha256: true, gitBlobSize: expected.gitBlobID == nil ? nil : expected.size)
        let size = try digestContents(of: fd, into: &digest, path: path)
        let digests = digest.finalize()
        let found = VerifiedFile(size: size, sha256: digests.sha256 ?? "", gitBlobID: digests.gitBlob, modified: modified)
        if expected.mismatch(found) == nil { return .intact(found) }
        guard unlink(path) == 0 else { throw SafePath.fileSystemError(path) }
        return .replaced
    }

    /// Runs the jobs on `configuration.jobs` threads, each with its own connection. The first
    /// failure stops the rest; what they fetched so far stays in their `.incomplete` files.
    private func transferAll(_ jobs: [FileJob], context: RepoContext, progress: ProgressDisplay)
        -> (verified: [String: VerifiedFile], error: Error?) {
        let batch = Batch(jobs, cancellation: context.cancellation)
        let group = DispatchGroup()
        for _ in 0..<min(configuration.jobs, jobs.count) {
            group.enter()
            let thread = Thread { [configuration] in
                defer { group.leave() }
                do {
                    let downloader = FileDownloader(http: try makeHTTPClient(), context: context,
                                                    writer: configuration.writer, progress: progress)
                    while let job = batch.next() {
                        do {
                            let verified = try downloader.download(job)
                            batch.record(job.remote.path, verified)
                            progress.finish(job.remote.path, size: verified.size, downloaded: true)
                        } catch {
                            batch.fail(error)
                        }
                    }
                } catch {
                    batch.fail(error)
                }
            }
            thread.start()
        }
        group.wait()
        return batch.outcome
    }
}

/// The shared queue of a parallel download.
private final class Batch: @unchecked Sendable {
    private let lock = NSLock()
    private let jobs: [FileJob]
    private let cancellation: CancellationFlag
    private var nextIndex = 0
    private var verified: [String: VerifiedFile] = [:]
    private var firstError: Error?

    init(_ jobs: [FileJob], cancellation: CancellationFlag) {
        self.jobs = jobs
        self.cancellation = cancellation
    }

    func next() -> FileJob? {
        lock.lock(); defer { lock.unlock() }
        guard !cancellation.isCancelled, nextIndex < jobs.count else { return nil }
        nextIndex += 1
        return jobs[nextIndex - 1]
    }

    func record(_ path: String, _ file: VerifiedFile) {
        lock.lock(); verified[path] = file; lock.unlock()
    }

    /// Keeps the first real error; the cancellations it causes in other threads are not news.
    func fail(_ error: Error) {
        lock.lock()
        if firstError == nil, (error as? HubError) != .cancelled { firstError = error }
        lock.unlock()
        cancellation.cancel()
    }

    var outcome: (verified: [String: VerifiedFile], error: Error?) {
        lock.lock(); defer { lock.unlock() }
        return (verified, firstError ?? (cancellation.isCancelled ? HubError.cancelled : nil))
    }
}

/// `.medtune-download.json`: which repository a folder holds and which of its files were checked.
struct Manifest: Codable {
    var source = ""
    var repo = ""
    var type = ""
    var revision = ""
    var commit: String?
    /// Every file the last download selected is present and checked.
    var complete = false
    var files: [String: VerifiedFile] = [:]

    mutating func describe(source: HubSource, repo: RepoID, type: RepoType, revision: String, commit: String?) {
        if self.source != source.rawValue || self.repo != repo.description || self.revision != revision {
            files = [:]
        }
        self.source = source.rawValue
        self.repo = repo.description
        self.type = type.rawValue
        self.revision = revision
        self.commit = commit
    }

    static func load(from folder: URL) -> Manifest? {
        guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(SafePath.manifestName).path) else { return nil }
        return try? JSONDecoder().decode(Manifest.self, from: data)
    }

    func save(in folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let target = folder.appendingPathComponent(SafePath.manifestName)
        do {
            try encoder.encode(self).write(to: target, options: .atomic)
        } catch {
            throw HubError.fileSystem(path: target.path, message: "cannot write the download record")
        }
    }
}
