import Foundation
import MedtuneCore

/// An access token. It only ever leaves as a request header to the hub's own host; printing it
/// shows nothing.
public struct HubToken: CustomStringConvertible, Sendable {
    let value: String

    /// Nil for an empty token; line breaks (which would inject headers) make it unusable.
    public init?(_ value: String?) {
        guard let trimmed = value?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty,
              !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return nil }
        self.value = trimmed
    }

    public var description: String { "<token>" }
}

/// Pauses between attempts: `initialDelay` doubling up to `maxDelay`, for at most `attempts`
/// tries of one request. A server's `Retry-After` is honoured up to `maxDelay`.
public struct RetryPolicy: Sendable {
    public var attempts: Int
    public var initialDelay: Double
    public var maxDelay: Double

    public init(attempts: Int = 5, initialDelay: Double = 1, maxDelay: Double = 30) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }
}

/// Whether to draw progress lines on standard error.
public enum ProgressOutput: Sendable {
    /// Only when standard error is a terminal.
    case automatic
    case never
}

/// How a `HubClient` reaches one hub and where it keeps files.
public struct HubConfiguration: Sendable {
    public var source: HubSource
    /// Scheme and host (and optional path prefix); a trailing slash is dropped.
    public var endpoint: String {
        didSet { endpoint = Self.normalised(endpoint) }
    }
    public var token: HubToken?
    /// No network at all: only what is already in the cache can be used.
    public var offline: Bool
    /// Root of the download cache; snapshots live in
    /// `<cacheRoot>/<source>/<models|datasets>/<owner>/<name>/<revision>`.
    public var cacheRoot: URL
    /// Files transferred at the same time.
    public var jobs: Int
    public var retry: RetryPolicy
    public var timeouts: HTTPTimeouts
    public var progress: ProgressOutput
    /// How bytes reach the disk; replaceable so that a full disk can be imitated.
    var writer: ChunkWriter = .posix
    /// Where lines such as retry notices go: standard error, whether or not progress is drawn,
    /// since a log is where a long pause most needs explaining. Replaceable so tests can read them.
    var notices: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("  \($0)\n".utf8)) }

    public init(source: HubSource, endpoint: String? = nil, token: HubToken? = nil, offline: Bool = false,
                cacheRoot: URL, jobs: Int = 4, retry: RetryPolicy = RetryPolicy(),
                timeouts: HTTPTimeouts = HTTPTimeouts(), progress: ProgressOutput = .automatic) {
        self.source = source
        self.endpoint = Self.normalised(endpoint ?? source.defaultEndpoint)
        self.token = token
        self.offline = offline
        self.cacheRoot = cacheRoot
        self.jobs = max(1, jobs)
        self.retry = retry
        self.timeouts = timeouts
        self.progress = progress
    }

    /// The conventions of each hub's own tools: HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE;
    /// MODELSCOPE_ENDPOINT or MODELSCOPE_DOMAIN, MODELSCOPE_API_TOKEN. The cache is under
    /// MEDTUNE_HOME, else ~/.cache/medtune. MEDTUNE_STALL_TIMEOUT and MEDTUNE_RETRIES go through
    /// `setStallTimeout` and `setRetries`, as the download command's flags do. Proxies
    /// (http_proxy, https_proxy, no_proxy) are read by libcurl itself.
    public static func fromEnvironment(_ source: HubSource,
                                       _ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HubConfiguration {
        func value(_ name: String) -> String? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        let endpoint: String?
        switch source {
        case .huggingface:
            endpoint = value("HF_ENDPOINT")
        case .modelscope:
            endpoint = value("MODELSCOPE_ENDPOINT") ?? value("MODELSCOPE_DOMAIN").map { $0.contains("://") ? $0 : "https://" + $0 }
        }
        func number(_ name: String) throws -> Int? {
            guard let text = value(name) else { return nil }
            guard let number = Int(text) else { throw InputError("\(name) must be a whole number, not '\(text)'") }
            return number
        }
        let offline = ["1", "ON", "YES", "TRUE"].contains(value("HF_HUB_OFFLINE")?.uppercased() ?? "")
        var configuration = HubConfiguration(source: source, endpoint: endpoint, token: HubToken(value(source.tokenVariable)),
                                             offline: offline, cacheRoot: cacheRoot(environment))
        if let seconds = try number("MEDTUNE_STALL_TIMEOUT") { try configuration.setStallTimeout(seconds, from: "MEDTUNE_STALL_TIMEOUT") }
        if let count = try number("MEDTUNE_RETRIES") { try configuration.setRetries(count, from: "MEDTUNE_RETRIES") }
        return configuration
    }

    /// Seconds a transfer may receive nothing before it counts as failed (and is tried again).
    /// `origin` names the flag or variable the value came from, for the error.
    public mutating func setStallTimeout(_ seconds: Int, from origin: String) throws {
        guard seconds >= 1 else { throw InputError("\(origin) must be at least 1 second, not \(seconds)") }
        timeouts.lowSpeedSeconds = seconds
    }

    /// Further attempts after a request fails in a way worth retrying (a stall, a dropped
    /// connection, HTTP 429 or 5xx).
    public mutating func setRetries(_ count: Int, from origin: String) throws {
        guard count >= 0 else { throw InputError("\(origin) must be 0 or more, not \(count)") }
        retry.attempts = count + 1
    }

    static func cacheRoot(_ environment: [String: String]) -> URL {
        CacheFolder.root(environment).appendingPathComponent("hub")
    }

    private static func normalised(_ endpoint: String) -> String {
        var text = endpoint.trimmingCharacters(in: .whitespaces)
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
