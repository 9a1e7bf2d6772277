/// ModelScope (www.modelscope.cn, or MODELSCOPE_ENDPOINT / MODELSCOPE_DOMAIN).
///
/// Models: listing `GET /api/v1/models/{repo}/repo/files?Revision=&Recursive=true`, file
/// `GET /api/v1/models/{repo}/repo?Revision=&FilePath=`.
/// Datasets: `GET /api/v1/datasets/{repo}` gives the dataset's numeric id, listed page by page
/// with `GET /api/v1/datasets/{id}/repo/tree?Revision=&Root=/&Recursive=True&PageNumber=&PageSize=`;
/// file `GET /api/v1/datasets/{repo}/repo?Source=SDK&Revision=&FilePath=`.
/// Answers are wrapped as `{"Code": 200, "Success": true, "Data": ..., "Message": ...}`.
struct ModelScopeAPI: HubAPI {
    let endpoint: String
    var source: HubSource { .modelscope }
    private let pageSize = 100

    private struct Envelope<Payload: Decodable>: Decodable {
        var Code: Int?
        var Success: Bool?
        var Message: String?
        var Data: Payload?
    }

    private struct FileList: Decodable {
        var Files: [Entry]?
    }

    private struct Entry: Decodable {
        var Path: String
        var `Type`: String?
        var Size: Int64?
        var Sha256: String?
    }

    private struct DatasetInfo: Decodable {
        var Id: FlexibleID
    }

    /// ModelScope's dataset id is a number; accept it as a string too.
    private struct FlexibleID: Decodable {
        var text: String
        init(from decoder: Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let number = try? value.decode(Int64.self) { text = String(number) } else { text = try value.decode(String.self) }
        }
    }

    func listing(of repo: RepoID, type: RepoType, revision: String, fetch: (String) throws -> [UInt8]) throws -> RepoListing {
        let rev = PercentEncoding.encode(revision, keeping: "")
        switch type {
        case .model:
            let url = "\(endpoint)/api/v1/models/\(repo)/repo/files?Revision=\(rev)&Recursive=true"
            let list = try payload(FileList.self, from: try fetch(url), repo: repo)
            return RepoListing(files: files(in: list.Files ?? []), commit: nil)
        case .dataset:
            let info = try payload(DatasetInfo.self, from: try fetch("\(endpoint)/api/v1/datasets/\(repo)"), repo: repo)
            let id = PercentEncoding.encode(info.Id.text, keeping: "")
            var entries: [Entry] = []
            // A server that keeps sending full pages must not keep medtune here forever.
            for page in 1...10_000 {
                let url = "\(endpoint)/api/v1/datasets/\(id)/repo/tree?Revision=\(rev)&Root=%2F&Recursive=True&PageNumber=\(page)&PageSize=\(pageSize)"
                let batch = try payload(FileList.self, from: try fetch(url), repo: repo).Files ?? []
                entries += batch
                if batch.count < pageSize { break }
            }
            return RepoListing(files: files(in: entries), commit: nil)
        }
    }

    private func files(in entries: [Entry]) -> [RemoteFile] {
        entries.filter { $0.Type != "tree" }.map { entry in
            let sha = entry.Sha256.flatMap { $0.isEmpty ? nil : $0.lowercased() }
            return RemoteFile(path: entry.Path, size: entry.Size, sha256: sha, gitBlobID: nil)
        }
    }

    private func payload<T: Decodable>(_ type: T.Type, from body: [UInt8], repo: RepoID) throws -> T {
        let envelope = try decodeJSON(Envelope<T>.self, from: body, repo: repo)
        if let code = envelope.Code, code != 200 {
            throw HubError.badListing(repo: repo.description, reason: "ModelScope answered code \(code): \(envelope.Message ?? "no message")")
        }
        if envelope.Success == false {
            throw HubError.badListing(repo: repo.description, reason: "ModelScope answered: \(envelope.Message ?? "no message")")
        }
        guard let data = envelope.Data else {
            throw HubError.badListing(repo: repo.description, reason: "no 'Data' in the answer")
        }
        return data
    }

    func fileURL(of path: String, in repo: RepoID, type: RepoType, revision: String) -> String {
        let rev = PercentEncoding.encode(revision, keeping: "")
        let file = PercentEncoding.encode(path, keeping: "")
        switch type {
        case .model: return "\(endpoint)/api/v1/models/\(repo)/repo?Revision=\(rev)&FilePath=\(file)"
        case .dataset: return "\(endpoint)/api/v1/datasets/\(repo)/repo?Source=SDK&Revision=\(rev)&FilePath=\(file)"
        }
    }

    /// ModelScope's SDK presents the access token as its session cookie.
    func credential(for token: HubToken) -> Credential {
        Credential(headerLine: "Cookie: m_session_id=\(token.value)")
    }

    func page(of repo: RepoID, type: RepoType) -> String {
        "\(endpoint)/\(type == .dataset ? "datasets" : "models")/\(repo)"
    }

    func refusalReason(_ response: HTTPResponse) -> (notFound: HubError.NotFoundReason, gated: Bool) {
        (.unknown, false)
    }
}
