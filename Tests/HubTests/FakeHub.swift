import Foundation
@testable import Hub

/// Imitates the Hugging Face and ModelScope APIs over a set of files, with a "CDN" on a second
/// port that large (LFS) files are redirected to, as both hubs do. Faults can be queued per file:
/// each request that serves the file's bytes takes the next one.
final class FakeHub: @unchecked Sendable {
    enum Fault {
        case status(Int, headers: [(String, String)] = [])
        /// Close the connection after this many bytes of the body.
        case drop(after: Int)
        /// Send this many bytes of the body, then nothing for three seconds, then the rest.
        case stall(after: Int)
        /// Answer a Range request with the whole file (200).
        case ignoreRange
        /// Answer a Range request with a 206 that starts at byte 0.
        case wrongRange
        /// Serve the file with one byte changed.
        case corrupt
        /// Serve the file followed by this many bytes more, all announced in `Content-Length`.
        case oversized(extra: Int)
    }

    struct File {
        var path: String
        var content: [UInt8]
        var lfs: Bool
    }

    static let commit = "0123456789abcdef0123456789abcdef01234567"
    static let datasetID = 4242

    private let lock = NSLock()
    private var files: [File]
    private var faults: [String: [Fault]] = [:]
    private var extraListed: [String] = []
    /// List Hugging Face files by name only, as the API does without `blobs=true`.
    private var bareListing = false
    /// The token clients must present; nil means the repository is public.
    private let token: String?
    private let gated: Bool

    private(set) var origin: TestHTTPServer!
    private(set) var cdn: TestHTTPServer!

    init(files: [File], token: String? = nil, gated: Bool = false) throws {
        self.files = files
        self.token = token
        self.gated = gated
        cdn = try TestHTTPServer { [unowned self] in self.serveCDN($0) }
        origin = try TestHTTPServer { [unowned self] in self.serveOrigin($0) }
    }

    func stop() {
        origin.stop()
        cdn.stop()
    }

    func queue(_ fault: Fault, for path: String) {
        lock.lock(); faults[path, default: []].append(fault); lock.unlock()
    }

    /// Names the listing shows besides the real files (hostile ones, for the safety tests).
    func list(extra names: [String]) {
        lock.lock(); extraListed += names; lock.unlock()
    }

    func listNamesOnly() {
        lock.lock(); bareListing = true; lock.unlock()
    }

    func content(of path: String) -> [UInt8]? {
        lock.lock(); defer { lock.unlock() }
        return files.first { $0.path == path }?.content
    }

    /// Requests for a file's bytes, at the origin or the CDN.
    func contentRequests(for path: String) -> [TestHTTPServer.Request] {
        (origin.requests + cdn.requests).filter { request in
            request.query["path"] == path || request.query["FilePath"] == path || request.path.hasSuffix("/resolve/main/" + path)
                || request.path.hasSuffix("/resolve/v1/" + path)
        }
    }

    // MARK: Origin

    private func serveOrigin(_ request: TestHTTPServer.Request) -> TestHTTPServer.Response {
        if let token {
            let bearer = request.headers["authorization"] == "Bearer \(token)"
            let cookie = request.headers["cookie"]?.contains("m_session_id=\(token)") ?? false
            if !bearer && !cookie {
                return .init(status: 401, headers: [("X-Error-Code", gated ? "GatedRepo" : "RepoNotFound")],
                             body: Array("{\"error\":\"Access to this repository is restricted\"}".utf8))
            }
        }
        let path = request.path
        let parts = path.split(separator: "/").map(String.init)
        // Hugging Face
        // A renamed repository answers with a relative redirect to its new name.
        if path == "/api/models/old/name/revision/main" {
            return .init(status: 307, headers: [("Location", "/api/models/org/repo/revision/main?blobs=true")])
        }
        if path.hasPrefix("/api/models/") || path.hasPrefix("/api/datasets/"), parts.count >= 6, parts[4] == "revision" {
            guard "\(parts[2])/\(parts[3])" == "org/repo" else {
                return .init(status: 404, headers: [("X-Error-Code", "RepoNotFound")], body: Array("{\"error\":\"Repository not found\"}".utf8))
            }
            guard parts[5...].joined(separator: "/") == "main" || parts[5] == "v1" else {
                return .init(status: 404, headers: [("X-Error-Code", "RevisionNotFound")])
            }
            return .json(huggingFaceListing())
        }
        if let range = path.range(of: "/resolve/") {
            let rest = path[range.upperBound...]
            guard let slash = rest.firstIndex(of: "/") else { return .init(status: 404) }
            return serveFromOrigin(String(rest[rest.index(after: slash)...]), request: request, hfHeaders: true)
        }
        // ModelScope
        if path == "/api/v1/models/org/repo/repo/files" {
            return .json(modelScopeEnvelope("{\"Files\":[\(modelScopeEntries(listedFiles()))]}"))
        }
        if path == "/api/v1/models/org/repo/repo" || path == "/api/v1/datasets/org/repo/repo" {
            guard let file = request.query["FilePath"] else { return .init(status: 400) }
            return serveFromOrigin(file, request: request, hfHeaders: false)
        }
        if path == "/api/v1/datasets/org/repo" {
            return .json(modelScopeEnvelope("{\"Id\":\(Self.datasetID),\"Type\":1}"))
        }
        if path == "/api/v1/datasets/\(Self.datasetID)/repo/tree" {
            let pageSize = Int(request.query["PageSize"] ?? "") ?? 100
            let page = Int(request.query["PageNumber"] ?? "") ?? 1
            let all = listedFiles()
            let slice = all.dropFirst((page - 1) * pageSize).prefix(pageSize)
            // Folders appear in the tree too and must be skipped.
            let folder = "{\"Path\":\"data\",\"Type\":\"tree\",\"Size\":0}"
            let entries = [page == 1 ? folder : nil, slice.isEmpty ? nil : modelScopeEntries(Array(slice))].compactMap { $0 }
            return .json(modelScopeEnvelope("{\"Files\":[\(entries.joined(separator: ","))]}"))
        }
        return .init(status: 404, headers: [("X-Error-Code", "RepoNotFound")])
    }

    private func serveFromOrigin(_ name: String, request: TestHTTPServer.Request, hfHeaders: Bool) -> TestHTTPServer.Response {
        guard let file = file(named: name) else { return .init(status: 404, headers: [("X-Error-Code", "EntryNotFound")]) }
        if file.lfs {
            var headers: [(String, String)] = [("Location", "\(cdn.baseURL)/blob?path=\(PercentEncoding.encode(name, keeping: ""))")]
            if hfHeaders {
                headers += [("X-Repo-Commit", Self.commit), ("X-Linked-Size", "\(file.content.count)"),
                            ("X-Linked-Etag", "\"\(sha256(file.content))\"")]
            }
            return .init(status: 302, headers: headers)
        }
        return serveBytes(of: file, request: request)
    }

    // MARK: CDN

    private func serveCDN(_ request: TestHTTPServer.Request) -> TestHTTPServer.Response {
        guard let name = request.query["path"], let file = file(named: name) else { return .init(status: 404) }
        return serveBytes(of: file, request: request)
    }

    // MARK: Bytes

    private func serveBytes(of file: File, request: TestHTTPServer.Request) -> TestHTTPServer.Response {
        let fault = nextFault(for: file.path)
        var content = file.content
        if case .status(let code, let headers) = fault { return .init(status: code, headers: headers) }
        if case .corrupt = fault, !content.isEmpty { content[content.count / 2] ^= 0xFF }
        if case .oversized(let extra) = fault { content += [UInt8](repeating: UInt8(ascii: " "), count: extra) }
        var response = TestHTTPServer.Response(status: 200, headers: [("ETag", "\"\(gitBlobID(file.content))\"")], body: content)
        if let range = request.headers["range"], range.hasPrefix("bytes="), range.hasSuffix("-"),
           let start = Int(range.dropFirst(6).dropLast()) {
            switch fault {
            case .ignoreRange?:
                break
            case .wrongRange?:
                response.status = 206
                response.headers.append(("Content-Range", "bytes 0-\(content.count - 1)/\(content.count)"))
            default:
                guard start < content.count else {
                    return .init(status: 416, headers: [("Content-Range", "bytes */\(content.count)")])
                }
                response.status = 206
                response.body = Array(content[start...])
                response.headers.append(("Content-Range", "bytes \(start)-\(content.count - 1)/\(content.count)"))
            }
        }
        if case .drop(let after) = fault { response.dropAfter = after }
        if case .stall(let after) = fault { response.pause = (after, 3) }
        return response
    }

    private func nextFault(for path: String) -> Fault? {
        lock.lock(); defer { lock.unlock() }
        guard var queue = faults[path], !queue.isEmpty else { return nil }
        let fault = queue.removeFirst()
        faults[path] = queue
        return fault
    }

    private func file(named name: String) -> File? {
        lock.lock(); defer { lock.unlock() }
        return files.first { $0.path == name }
    }

    private func listedFiles() -> [(path: String, file: File?)] {
        lock.lock(); defer { lock.unlock() }
        return files.map { ($0.path, $0) } + extraListed.map { ($0, nil) }
    }

    // MARK: Listings

    private func huggingFaceListing() -> String {
        let bare = { self.lock.lock(); defer { self.lock.unlock() }; return self.bareListing }()
        let siblings = listedFiles().map { entry -> String in
            guard let file = entry.file, !bare else { return "{\"rfilename\":\(jsonString(entry.path))}" }
            var text = "{\"rfilename\":\(jsonString(file.path)),\"size\":\(file.lfs ? 134 : file.content.count)"
            if file.lfs {
                text += ",\"blobId\":\"\(String(repeating: "b", count: 40))\",\"lfs\":{\"sha256\":\"\(sha256(file.content))\",\"size\":\(file.content.count),\"pointerSize\":134}"
            } else {
                text += ",\"blobId\":\"\(gitBlobID(file.content))\""
            }
            return text + "}"
        }
        return "{\"id\":\"org/repo\",\"sha\":\"\(Self.commit)\",\"siblings\":[\(siblings.joined(separator: ","))]}"
    }

    private func modelScopeEntries(_ entries: [(path: String, file: File?)]) -> String {
        entries.map { entry in
            let size = entry.file?.content.count ?? 1
            let sha = entry.file.map { sha256($0.content) } ?? ""
            let name = entry.path.split(separator: "/").last.map(String.init) ?? entry.path
            return "{\"Name\":\(jsonString(name)),\"Path\":\(jsonString(entry.path)),\"Type\":\"blob\",\"Size\":\(size),\"Sha256\":\"\(sha)\",\"IsLFS\":\(entry.file?.lfs ?? false)}"
        }.joined(separator: ",")
    }

    private func modelScopeEnvelope(_ data: String) -> String {
        "{\"Code\":200,\"Data\":\(data),\"Message\":\"success\",\"RequestId\":\"test\",\"Success\":true}"
    }

    private func jsonString(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }
}

func sha256(_ bytes: [UInt8]) -> String {
    digests(bytes).sha256!
}

func gitBlobID(_ bytes: [UInt8]) -> String {
    digests(bytes).gitBlob!
}

/// Both digests of `bytes` fed in one piece.
func digests(_ bytes: [UInt8]) -> (sha256: String?, gitBlob: String?) {
    var digest = ContentDigest(sha256: true, gitBlobSize: Int64(bytes.count))
    bytes.withUnsafeBytes { digest.update($0) }
    return digest.finalize()
}

/// Bytes that differ from file to file and position to position.
func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 7 &+ ($0 >> 8)) }
}
