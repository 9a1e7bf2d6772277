import Foundation

/// A file as a hub lists it, with whatever it says about the content.
struct RemoteFile: Equatable {
    var path: String
    var size: Int64?
    /// SHA-256 of the content: the Git LFS object id, or ModelScope's `Sha256`.
    var sha256: String?
    /// The git blob id of a file kept in git itself (not LFS).
    var gitBlobID: String?
}

struct RepoListing {
    var files: [RemoteFile]
    /// The commit the revision pointed to, when the hub says.
    var commit: String?
}

/// Everything that differs between hubs: their URLs, their listing formats and how a token is
/// presented. `fetch` GETs a URL of the hub's API (with retries and status checks) and returns
/// the body.
protocol HubAPI {
    var source: HubSource { get }
    var endpoint: String { get }
    func listing(of repo: RepoID, type: RepoType, revision: String, fetch: (String) throws -> [UInt8]) throws -> RepoListing
    func fileURL(of path: String, in repo: RepoID, type: RepoType, revision: String) -> String
    func credential(for token: HubToken) -> Credential
    /// The repository's web page, where a user accepts a licence or checks the id.
    func page(of repo: RepoID, type: RepoType) -> String
    /// The hub's own reason for a 404 or 403, read from the first answer's headers.
    func refusalReason(_ response: HTTPResponse) -> (notFound: HubError.NotFoundReason, gated: Bool)
}

func decodeJSON<T: Decodable>(_ type: T.Type, from body: [UInt8], repo: RepoID) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: Data(body))
    } catch let DecodingError.keyNotFound(key, context) {
        throw HubError.badListing(repo: repo.description, reason: "missing field '\(key.stringValue)' at \(pathText(context.codingPath))")
    } catch let DecodingError.typeMismatch(_, context) {
        throw HubError.badListing(repo: repo.description, reason: "unexpected value at \(pathText(context.codingPath))")
    } catch {
        throw HubError.badListing(repo: repo.description, reason: "the answer is not the expected JSON")
    }
}

private func pathText(_ path: [CodingKey]) -> String {
    path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
}
