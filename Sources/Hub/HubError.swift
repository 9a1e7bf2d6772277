import MedtuneCore

/// What can go wrong while finding or fetching a repository. Descriptions name the repository,
/// file or folder concerned and what to do; they never contain a token (tokens only ever travel
/// in request headers, which no error records).
public enum HubError: MedtuneError, Equatable {
    case invalidRepoID(String)
    case invalidRevision(String)
    /// The server listed a file whose name could write outside the download folder.
    case unsafeFileName(repo: String, name: String, reason: String)
    /// 401/403. `gated` when the hub says the repository needs its licence accepted.
    case accessDenied(repo: String, status: Int, gated: Bool, source: HubSource, page: String)
    /// 404, with the hub's reason when it gives one (unknown repository, revision or file).
    case notFound(repo: String, revision: String, file: String?, reason: NotFoundReason)
    case httpStatus(repo: String, status: Int, url: String)
    case transport(url: String, message: String)
    case badListing(repo: String, reason: String)
    case integrity(file: String, expected: String, actual: String)
    /// The server sent more bytes than the listing gives for the file.
    case oversized(file: String, size: Int64)
    case diskFull(file: String)
    case fileSystem(path: String, message: String)
    case offline(repo: String, folder: String)
    case noMatchingFiles(repo: String, include: [String], exclude: [String])
    case cancelled

    public enum NotFoundReason: Equatable, Sendable {
        case repository, revision, file, unknown
    }

    public var description: String {
        switch self {
        case .invalidRepoID(let text):
            return "'\(text)' is not a repository id: expected owner/name (letters, digits, '-', '_', '.') optionally followed by @revision"
        case .invalidRevision(let text):
            return "'\(text)' is not a usable revision name"
        case .unsafeFileName(let repo, let name, let reason):
            return "\(repo): the server listed the file name '\(name.debugDescriptionQuoted)', which \(reason); refusing to download this repository"
        case .accessDenied(let repo, let status, let gated, let source, let page):
            if gated {
                return "\(repo) is gated (HTTP \(status)): accept its licence at \(page) while logged in, then set \(source.tokenVariable) to an access token of that account"
            }
            return "access to \(repo) was refused (HTTP \(status)): if it is private or gated, accept its terms at \(page) and set \(source.tokenVariable) to an access token that may read it"
        case .notFound(let repo, let revision, let file, let reason):
            switch reason {
            case .repository:
                return "repository \(repo) not found (HTTP 404): check the id and --repo-type (private repositories also need a token)"
            case .revision:
                return "revision '\(revision)' of \(repo) not found (HTTP 404): check --revision"
            case .file, .unknown:
                if let file { return "\(file) not found in \(repo) at revision '\(revision)' (HTTP 404): check the file name and revision" }
                return "\(repo) at revision '\(revision)' not found (HTTP 404): check the repository id, --repo-type and --revision"
            }
        case .httpStatus(let repo, let status, let url):
            return "\(repo): the server answered HTTP \(status) for \(url)"
        case .transport(let url, let message):
            return "could not fetch \(url): \(message)"
        case .badListing(let repo, let reason):
            return "\(repo): the file listing could not be read: \(reason)"
        case .integrity(let file, let expected, let actual):
            return "\(file) is corrupt after downloading it twice: expected \(expected), got \(actual); the partial file was removed, run the command again or check the server"
        case .oversized(let file, let size):
            return "\(file): the server sent more than the \(size) bytes the repository's listing gives; the transfer was stopped and the partial file removed (if the repository changed meanwhile, run the command again)"
        case .diskFull(let file):
            return "no space left on the device while writing \(file).incomplete; it is kept: free some space and run the same command again to resume"
        case .fileSystem(let path, let message):
            return "\(path): \(message)"
        case .offline(let repo, let folder):
            return "\(repo) is not in the cache (\(folder)) and HF_HUB_OFFLINE forbids downloading it: unset HF_HUB_OFFLINE or download it first"
        case .noMatchingFiles(let repo, let include, let exclude):
            var filters: [String] = []
            if !include.isEmpty { filters.append("--include " + include.joined(separator: " ")) }
            if !exclude.isEmpty { filters.append("--exclude " + exclude.joined(separator: " ")) }
            return "\(repo): no files match " + (filters.isEmpty ? "(the repository is empty)" : filters.joined(separator: ", "))
        case .cancelled:
            return "download cancelled"
        }
    }
}

private extension String {
    /// Control characters in server-supplied names would garble the terminal line.
    var debugDescriptionQuoted: String {
        unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }
}
