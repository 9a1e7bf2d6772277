import Foundation

/// A failure worth another attempt after a pause.
struct RetryableFailure: Error {
    /// What to report if no attempt is left.
    var error: Error
    /// Seconds the server asked to wait (`Retry-After`).
    var retryAfter: Double? = nil
    /// The attempt moved the transfer forward (a connection dropped midway), so it does not use
    /// up the attempts meant for a server that does not answer at all.
    var madeProgress = false
}

/// Set once by the first download that fails; the others stop at their next chunk and keep
/// what they have for resumption.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
    func cancel() { lock.lock(); cancelled = true; lock.unlock() }
}

/// One repository at one revision on one hub, with what every request to it shares: the
/// credential, the retry policy, and how answers become errors.
struct RepoContext {
    let api: HubAPI
    let repo: RepoID
    let type: RepoType
    let revision: String
    let credential: Credential?
    let retry: RetryPolicy
    let cancellation: CancellationFlag
    /// Tells the user about a pause before another attempt.
    let notice: (String) -> Void

    /// Runs `body` until it returns, throws a final error, or runs out of attempts. `subject`
    /// names what is being fetched (a file's repository path, the listing) in the notice
    /// printed before each new attempt.
    func retrying<T>(_ subject: String, _ body: () throws -> T) throws -> T {
        var failures = 0
        var pause = retry.initialDelay
        while true {
            do {
                return try body()
            } catch let failure as RetryableFailure {
                failures = failure.madeProgress ? 1 : failures + 1
                if failures >= retry.attempts || cancellation.isCancelled { throw failure.error }
                let wait = min(retry.maxDelay, failure.retryAfter ?? pause)
                pause = failure.madeProgress ? retry.initialDelay : min(retry.maxDelay, pause * 2)
                notice("\(subject): attempt \(failures) of \(retry.attempts) failed (\(failure.error)); trying again in \(String(format: "%g", wait)) s")
                Thread.sleep(forTimeInterval: wait)
                if cancellation.isCancelled { throw HubError.cancelled }
            }
        }
    }

    /// The error for an answer that was neither a success nor a redirect: a `RetryableFailure`
    /// for 429 and 5xx, a final `HubError` otherwise.
    func failure(for response: HTTPResponse, file: String?) -> Error {
        let status = response.status
        let reason = api.refusalReason(response)
        switch status {
        case 401, 403:
            return HubError.accessDenied(repo: repo.description, status: status, gated: reason.gated,
                                         source: api.source, page: api.page(of: repo, type: type))
        case 404:
            return HubError.notFound(repo: repo.description, revision: revision, file: file, reason: reason.notFound)
        case 429, 500...599:
            let wait = response.headers["retry-after"].flatMap(Double.init)
            return RetryableFailure(error: HubError.httpStatus(repo: repo.description, status: status, url: response.url), retryAfter: wait)
        default:
            return HubError.httpStatus(repo: repo.description, status: status, url: response.url)
        }
    }

    /// GETs an API answer into memory.
    func fetchAPI(_ url: String, http: HTTPClient) throws -> [UInt8] {
        try retrying("\(repo) file listing") {
            let body = MemorySink(limit: 256 << 20)
            let response: HTTPResponse
            do {
                response = try http.get(url, headers: ["Accept: application/json"], credential: credential, sink: body)
            } catch let error as TransportError {
                let failure = HubError.transport(url: url, message: error.message)
                throw error.isTransient ? RetryableFailure(error: failure) : failure
            }
            guard (200..<300).contains(response.status) else { throw failure(for: response, file: nil) }
            return body.bytes
        }
    }
}

/// Collects a small body (an API answer) in memory.
final class MemorySink: ResponseSink {
    private let limit: Int
    private(set) var bytes: [UInt8] = []

    init(limit: Int) { self.limit = limit }

    func open(status: Int, headers: HTTPHeaders) throws { bytes.removeAll() }

    func write(_ chunk: UnsafeRawBufferPointer) throws {
        guard bytes.count + chunk.count <= limit else {
            throw TransportError(url: "", message: "answer larger than \(limit) bytes", isTransient: false)
        }
        bytes.append(contentsOf: chunk)
    }
}
