import Foundation

/// What a finished file must match, from the listing and, failing that, the hub's headers.
struct Expectation {
    var size: Int64?
    var sha256: String?
    var gitBlobID: String?

    init(_ file: RemoteFile) {
        size = file.size
        sha256 = file.sha256?.lowercased()
        gitBlobID = file.gitBlobID?.lowercased()
    }

    /// Hugging Face names an LFS file's size and SHA-256 in `X-Linked-Size` and `X-Linked-Etag`
    /// on its redirect; they stand in when the listing gave none.
    func completed(by origin: HTTPHeaders) -> Expectation {
        var result = self
        if result.size == nil, let linked = origin["x-linked-size"].flatMap({ Int64($0) }) { result.size = linked }
        if result.sha256 == nil, let etag = origin["x-linked-etag"].map(Self.unquoted), etag.count == 64,
           etag.allSatisfy(\.isHexDigit) {
            result.sha256 = etag.lowercased()
        }
        return result
    }

    private static func unquoted(_ etag: String) -> String {
        var text = Substring(etag)
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        return String(text.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
    }

    /// The first difference between `entry` and what is expected, as (expected, actual) texts.
    func mismatch(_ entry: VerifiedFile) -> (expected: String, actual: String)? {
        if let size, size != entry.size { return ("\(size) bytes", "\(entry.size) bytes") }
        if let sha256, sha256 != entry.sha256 { return ("SHA-256 \(sha256)", "SHA-256 \(entry.sha256)") }
        if let gitBlobID, gitBlobID != entry.gitBlobID { return ("git blob \(gitBlobID)", "git blob \(entry.gitBlobID ?? "none")") }
        return nil
    }
}

/// A file on disk as medtune checked it; recorded in the folder's manifest so that a later run
/// can trust an unchanged file without reading it again.
struct VerifiedFile: Codable, Equatable {
    var size: Int64
    var sha256: String
    var gitBlobID: String?
    /// Modification time (seconds since 1970) when it was checked.
    var modified: Double
}

/// One file to fetch.
struct FileJob {
    var remote: RemoteFile
    var url: String
    var destination: URL
    var incomplete: String { destination.path + SafePath.incompleteSuffix }
}

/// Fetches files one at a time over its own HTTP client: into `<name>.incomplete`, resuming
/// what an earlier attempt left with a Range request, checking size and digests, and only then
/// renaming to the final name. A file that fails its checks is fetched once more from scratch.
final class FileDownloader {
    private let http: HTTPClient
    private let context: RepoContext
    private let writer: ChunkWriter
    private let progress: ProgressDisplay

    init(http: HTTPClient, context: RepoContext, writer: ChunkWriter, progress: ProgressDisplay) {
        self.http = http
        self.context = context
        self.writer = writer
        self.progress = progress
    }

    func download(_ job: FileJob) throws -> VerifiedFile {
        var secondRound = false
        while true {
            let (written, origin) = try transfer(job)
            let expected = Expectation(job.remote).completed(by: origin)
            guard let problem = expected.mismatch(written) else {
                guard rename(job.incomplete, job.destination.path) == 0 else { throw SafePath.fileSystemError(job.destination.path) }
                return try recorded(written, at: job.destination.path)
            }
            unlink(job.incomplete)
            progress.restart(job.remote.path, at: 0)
            if secondRound {
                throw HubError.integrity(file: job.remote.path, expected: problem.expected, actual: problem.actual)
            }
            secondRound = true
        }
    }

    /// Brings `job.incomplete` to the end of the file; returns what was written and the headers
    /// of the hub's last answer.
    private func transfer(_ job: FileJob) throws -> (VerifiedFile, HTTPHeaders) {
        let fd = open(job.incomplete, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SafePath.fileSystemError(job.incomplete) }
        defer { close(fd) }
        let expected = Expectation(job.remote)
        let file = PartialFile(fd: fd, job: job, repo: context.repo.description, size: expected.size,
                               gitBlobSize: expected.gitBlobID == nil ? nil : expected.size,
                               writer: writer, progress: progress, cancellation: context.cancellation)
        try file.adoptExisting()
        var origin = HTTPHeaders()
        try context.retrying(job.remote.path) {
            // An earlier run may have stopped after the last byte but before the checks.
            if let size = expected.size, file.length == size { return }
            let start = file.length
            file.requestedStart = start
            do {
                let response = try http.get(job.url, credential: context.credential, rangeStart: start > 0 ? start : nil, sink: file)
                switch response.status {
                case 200..<300:
                    origin = response.originHeaders
                case 416:
                    try file.startOver()
                    throw RetryableFailure(error: HubError.httpStatus(repo: context.repo.description, status: 416, url: response.url), retryAfter: 0)
                default:
                    throw context.failure(for: response, file: job.remote.path)
                }
            } catch let error as TransportError {
                let failure = HubError.transport(url: job.url, message: error.message)
                guard error.isTransient else { throw failure }
                throw RetryableFailure(error: failure, madeProgress: file.length > start)
            } catch is RangeMismatch {
                try file.startOver()
                throw RetryableFailure(error: HubError.transport(url: job.url, message: "the server answered a resumed request with the wrong range"), retryAfter: 0)
            } catch let error as OversizedBody {
                // The listing and the server disagree, which another attempt will not change;
                // the bytes so far are no use to a later run either.
                unlink(job.incomplete)
                throw HubError.oversized(file: job.remote.path, size: error.limit)
            }
        }
        return (file.finish(), origin)
    }

    private func recorded(_ file: VerifiedFile, at path: String) throws -> VerifiedFile {
        var result = file
        result.modified = try modificationTime(path)
        return result
    }
}

func modificationTime(_ path: String) throws -> Double {
    var info = stat()
    guard stat(path, &info) == 0 else { throw SafePath.fileSystemError(path) }
    return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
}

/// Reads an open file from the start through `digest`; returns its length.
func digestContents(of fd: Int32, into digest: inout ContentDigest, path: String) throws -> Int64 {
    var length: Int64 = 0
    guard !digest.isEmpty else {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SafePath.fileSystemError(path) }
        return Int64(info.st_size)
    }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
    defer { buffer.deallocate() }
    while true {
        let count = pread(fd, buffer.baseAddress, buffer.count, off_t(length))
        if count < 0 {
            if errno == EINTR { continue }
            throw SafePath.fileSystemError(path)
        }
        if count == 0 { return length }
        digest.update(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        length += Int64(count)
    }
}

/// The server's answer to a resumed request does not continue where the file stops.
struct RangeMismatch: Error {}

/// The body goes on past the size the listing gives.
struct OversizedBody: Error {
    let limit: Int64
}

/// The `.incomplete` file being written, with the digests of everything in it so far.
private final class PartialFile: ResponseSink {
    let fd: Int32
    let job: FileJob
    let repo: String
    /// The listed size; the body may not go past it.
    let size: Int64?
    let gitBlobSize: Int64?
    let writer: ChunkWriter
    let progress: ProgressDisplay
    let cancellation: CancellationFlag
    private(set) var length: Int64 = 0
    /// Where the current request asked the body to start.
    var requestedStart: Int64 = 0
    private var digest: ContentDigest

    init(fd: Int32, job: FileJob, repo: String, size: Int64?, gitBlobSize: Int64?, writer: ChunkWriter, progress: ProgressDisplay,
         cancellation: CancellationFlag) {
        self.fd = fd
        self.job = job
        self.repo = repo
        self.size = size
        self.gitBlobSize = gitBlobSize
        self.writer = writer
        self.progress = progress
        self.cancellation = cancellation
        digest = ContentDigest(sha256: true, gitBlobSize: gitBlobSize)
    }

    /// Continues from what an interrupted run left, unless it is longer than the whole file.
    func adoptExisting() throws {
        length = try digestContents(of: fd, into: &digest, path: job.incomplete)
        if let size, length > size { try startOver() }
        progress.restart(job.remote.path, at: length)
    }

    func startOver() throws {
        guard ftruncate(fd, 0) == 0 else { throw SafePath.fileSystemError(job.incomplete) }
        length = 0
        digest = ContentDigest(sha256: true, gitBlobSize: gitBlobSize)
        progress.restart(job.remote.path, at: 0)
    }

    func open(status: Int, headers: HTTPHeaders) throws {
        switch status {
        case 206:
            guard requestedStart == length, let range = headers["content-range"].flatMap(ContentRange.init),
                  range.first == requestedStart else { throw RangeMismatch() }
        case 200:
            // The whole file, whether or not a range was asked for.
            if length > 0 { try startOver() }
        default:
            throw HubError.httpStatus(repo: repo, status: status, url: job.url)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if cancellation.isCancelled { throw HubError.cancelled }
        // Checked before writing, so that a server sending far more than it listed (by mistake
        // or to fill the disk) is cut off within one chunk of the first extra byte, not read
        // to its end.
        if let size, length + Int64(bytes.count) > size { throw OversizedBody(limit: size) }
        do {
            try writer.write(fd, bytes, length)
        } catch let failure as WriteFailure {
            if failure.isDiskFull { throw HubError.diskFull(file: job.destination.path) }
            throw HubError.fileSystem(path: job.incomplete, message: failure.message)
        }
        digest.update(bytes)
        length += Int64(bytes.count)
        progress.advance(job.remote.path, by: Int64(bytes.count))
    }

    func finish() -> VerifiedFile {
        let digests = digest.finalize()
        return VerifiedFile(size: length, sha256: digests.sha256 ?? "", gitBlobID: digests.gitBlob, modified: 0)
    }
}

/// `Content-Range: bytes first-last/total`.
private struct ContentRange {
    let first: Int64

    init?(_ header: String) {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes "), let dash = text.firstIndex(of: "-"),
              let first = Int64(text[text.index(text.startIndex, offsetBy: 6)..<dash].trimmingCharacters(in: .whitespaces))
        else { return nil }
        self.first = first
    }
}
