/// The Hugging Face Hub (and mirrors of it, through HF_ENDPOINT).
///
/// Listing: `GET /api/{models|datasets}/{repo}/revision/{rev}?blobs=true`, whose `siblings`
/// carry each file's size, git blob id and, for LFS files, the object's SHA-256.
/// Files: `GET /{repo}/resolve/{rev}/{path}` (datasets under `/datasets/`), which answers LFS
/// files with a redirect to a CDN.
struct HuggingFaceAPI: HubAPI {
    let endpoint: String
    var source: HubSource { .huggingface }

    private struct RepoInfo: Decodable {
        var sha: String?
        var siblings: [Sibling]?
    }

    private struct Sibling: Decodable {
        var rfilename: String
        var size: Int64?
        var blobId: String?
        var lfs: LFS?
    }

    private struct LFS: Decodable {
        var sha256: String?
        var size: Int64?
    }

    func listing(of repo: RepoID, type: RepoType, revision: String, fetch: (String) throws -> [UInt8]) throws -> RepoListing {
        let url = "\(endpoint)/api/\(type == .model ? "models" : "datasets")/\(repo)/revision/\(PercentEncoding.encode(revision, keeping: ""))?blobs=true"
        let info = try decodeJSON(RepoInfo.self, from: try fetch(url), repo: repo)
        guard let siblings = info.siblings else {
            throw HubError.badListing(repo: repo.description, reason: "no 'siblings' in the answer")
        }
        let files = siblings.map { sibling -> RemoteFile in
            if let lfs = sibling.lfs {
                // The blob id of an LFS file is that of its pointer, not of the content.
                return RemoteFile(path: sibling.rfilename, size: lfs.size ?? sibling.size, sha256: lfs.sha256, gitBlobID: nil)
            }
            return RemoteFile(path: sibling.rfilename, size: sibling.size, sha256: nil, gitBlobID: sibling.blobId)
        }
        return RepoListing(files: files, commit: info.sha)
    }

    func fileURL(of path: String, in repo: RepoID, type: RepoType, revision: String) -> String {
        let prefix = type == .dataset ? "datasets/" : ""
        return "\(endpoint)/\(prefix)\(repo)/resolve/\(PercentEncoding.encode(revision, keeping: ""))/\(PercentEncoding.encode(path, keeping: "/"))"
    }

    func credential(for token: HubToken) -> Credential {
        Credential(headerLine: "Authorization: Bearer \(token.value)")
    }

    func page(of repo: RepoID, type: RepoType) -> String {
        "\(endpoint)/\(type == .dataset ? "datasets/" : "")\(repo)"
    }

    func refusalReason(_ response: HTTPResponse) -> (notFound: HubError.NotFoundReason, gated: Bool) {
        switch response.originHeaders["x-error-code"] {
        case "RepoNotFound": return (.repository, false)
        case "RevisionNotFound": return (.revision, false)
        case "EntryNotFound": return (.file, false)
        case "GatedRepo": return (.unknown, true)
        default: return (.unknown, false)
        }
    }
}
