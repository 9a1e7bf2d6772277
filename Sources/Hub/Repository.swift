import MedtuneCore

/// The hubs medtune downloads from.
public enum HubSource: String, CaseIterable, Sendable {
    case huggingface
    case modelscope

    /// The branch a repository is read from when no revision is given.
    public var defaultRevision: String {
        switch self {
        case .huggingface: return "main"
        case .modelscope: return "master"
        }
    }

    public var defaultEndpoint: String {
        switch self {
        case .huggingface: return "https://huggingface.co"
        case .modelscope: return "https://www.modelscope.cn"
        }
    }

    /// The environment variable a user sets to reach private or gated repositories.
    public var tokenVariable: String {
        switch self {
        case .huggingface: return "HF_TOKEN"
        case .modelscope: return "MODELSCOPE_API_TOKEN"
        }
    }
}

public enum RepoType: String, CaseIterable, Sendable {
    case model
    case dataset
}

/// A repository on a hub: `owner/name` (Hugging Face also knows a few owner-less legacy names
/// such as `bert-base-chinese`).
///
/// The id becomes part of URLs and of cache paths, so only the characters hubs allow in ids are
/// accepted, and `.`/`..` never appear as a component.
public struct RepoID: Hashable, CustomStringConvertible, Sendable {
    public let components: [String]

    public init(_ text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        let valid = (1...2).contains(parts.count) && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 96 && part != "." && part != ".." && part.allSatisfy(allowed.contains)
        }
        guard valid else { throw HubError.invalidRepoID(text) }
        components = parts
    }

    public var description: String { components.joined(separator: "/") }
}

/// A reference as users write it where medtune expects a model: `owner/name` or
/// `owner/name@revision`.
public struct RepoReference: Equatable, Sendable {
    public var id: RepoID
    public var revision: String?

    public init(parsing text: String) throws {
        if let at = text.firstIndex(of: "@") {
            id = try RepoID(String(text[..<at]))
            revision = try Revision.validated(String(text[text.index(after: at)...]))
        } else {
            id = try RepoID(text)
            revision = nil
        }
    }
}

/// Branch, tag or commit names. They may contain `/` (`refs/pr/1`), so they are percent-encoded
/// both in URLs and as cache folder names.
enum Revision {
    static func validated(_ revision: String) throws -> String {
        let bad = revision.isEmpty || revision == "." || revision == ".."
            || revision.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
        if bad { throw HubError.invalidRevision(revision) }
        return revision
    }

    /// One path component that cannot contain a separator or be `..`.
    static func folderName(_ revision: String) -> String {
        PercentEncoding.encode(revision, keeping: "")
    }
}

enum PercentEncoding {
    private static let unreserved = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~".utf8)

    /// RFC 3986 encoding of everything but unreserved characters and those in `keeping`.
    static func encode(_ text: String, keeping: String) -> String {
        let kept = unreserved.union(keeping.utf8)
        var out = ""
        for byte in text.utf8 {
            if kept.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
