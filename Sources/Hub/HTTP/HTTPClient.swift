import CCurl
import Foundation

/// A request header that must reach only the host it was issued for: a bearer token or a session
/// cookie. Its description never shows the value, so it cannot leak through string interpolation.
struct Credential: CustomStringConvertible {
    let headerLine: String
    var description: String { "<credential>" }
}

/// Response header fields by lower-cased name.
struct HTTPHeaders {
    private(set) var fields: [String: String] = [:]

    subscript(name: String) -> String? { fields[name.lowercased()] }

    mutating func add(line: String) {
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        fields[name] = value
    }
}

struct HTTPResponse {
    var status: Int
    /// Headers of the last answer (the CDN's, after a redirect).
    var headers: HTTPHeaders
    /// Headers of the first answer, which come from the hub itself and carry its metadata
    /// (`X-Repo-Commit`, `X-Linked-Etag`, `X-Linked-Size`, `X-Error-Code`).
    var originHeaders: HTTPHeaders
    var url: String
    /// The start of the body of an answer that was not a success.
    var errorBody: [UInt8]
}

/// Where the body of a successful (2xx) answer goes. Errors thrown here abort the transfer and
/// come out of `HTTPClient.get` unchanged.
protocol ResponseSink: AnyObject {
    func open(status: Int, headers: HTTPHeaders) throws
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// A failure below HTTP: no connection, a timeout, a connection dropped before the body ended.
struct TransportError: Error {
    var url: String
    var message: String
    /// Worth trying again after a pause.
    var isTransient: Bool
}

/// Timeouts for every transfer. A stalled transfer (less than `lowSpeedBytes` per second for
/// `lowSpeedSeconds`) counts as a timeout; there is no limit on the total time of a large file.
public struct HTTPTimeouts: Sendable {
    public var connectSeconds: Int
    public var lowSpeedBytes: Int
    public var lowSpeedSeconds: Int

    public init(connectSeconds: Int = 30, lowSpeedBytes: Int = 1, lowSpeedSeconds: Int = 60) {
        self.connectSeconds = connectSeconds
        self.lowSpeedBytes = lowSpeedBytes
        self.lowSpeedSeconds = lowSpeedSeconds
    }
}

/// GET requests over one libcurl easy handle (so connections are reused). Not thread-safe: each
/// download thread owns one.
///
/// Redirects are followed here rather than by libcurl, because a credential given as a request
/// header would otherwise be forwarded to whatever host the hub redirects to (its CDN). Each hop
/// gets the credential only when it goes to the same scheme, host and port as the first request.
final class HTTPClient {
    private let handle: UnsafeMutableRawPointer
    private let timeouts: HTTPTimeouts
    private let maxRedirects = 10

    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    init(timeouts: HTTPTimeouts) throws {
        guard Self.globalInit == CURLE_OK, let handle = curl_easy_init() else {
            throw TransportError(url: "", message: "libcurl could not be initialised", isTransient: false)
        }
        self.handle = handle
        self.timeouts = timeouts
    }

    deinit { curl_easy_cleanup(handle) }

    /// `rangeStart` asks for the bytes from that offset on (`Range: bytes=N-`); checking that the
    /// server honoured it is the sink's job.
    func get(_ url: String, headers: [String] = [], credential: Credential?, rangeStart: Int64? = nil,
             sink: ResponseSink?) throws -> HTTPResponse {
        let first = try Origin(url)
        var current = url
        var originHeaders: HTTPHeaders?
        for _ in 0...maxRedirects {
            let here = try Origin(current)
            let sendCredential = credential != nil && here == first
            let exchange = Exchange(sink: sink)
            try perform(current, headers: headers + (sendCredential ? [credential!.headerLine] : []),
                        rangeStart: rangeStart, exchange: exchange)
            originHeaders = originHeaders ?? exchange.headers
            if [301, 302, 303, 307, 308].contains(exchange.status), let next = redirectTarget() {
                let target = try Origin(next)
                if first.scheme == "https" && target.scheme != "https" {
                    throw TransportError(url: url, message: "refusing a redirect from https to \(target.scheme)", isTransient: false)
                }
                current = next
                continue
            }
            if (200..<300).contains(exchange.status) && !exchange.opened {
                // An empty body never reached the write callback.
                try sink?.open(status: exchange.status, headers: exchange.headers)
            }
            return HTTPResponse(status: exchange.status, headers: exchange.headers,
                                originHeaders: originHeaders ?? exchange.headers, url: current,
                                errorBody: exchange.errorBody)
        }
        throw TransportError(url: url, message: "more than \(maxRedirects) redirects", isTransient: false)
    }

    private func perform(_ url: String, headers: [String], rangeStart: Int64?, exchange: Exchange) throws {
        curl_easy_reset(handle)
        var list: UnsafeMutablePointer<curl_slist>?
        for line in headers { list = curl_slist_append(list, line) }
        defer { curl_slist_free_all(list) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let context = Unmanaged.passUnretained(exchange).toOpaque()

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorText in
            var setup = CURLE_OK
            func set(_ result: CURLcode) { if setup == CURLE_OK { setup = result } }
            set(medtune_curl_setopt_string(handle, CURLOPT_URL, url))
            set(medtune_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
            set(medtune_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
            set(medtune_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
            set(medtune_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, timeouts.connectSeconds))
            set(medtune_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, timeouts.lowSpeedBytes))
            set(medtune_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, timeouts.lowSpeedSeconds))
            set(medtune_curl_setopt_string(handle, CURLOPT_USERAGENT, "medtune/1"))
            set(medtune_curl_setopt_long(handle, CURLOPT_BUFFERSIZE, 512 * 1024))
            set(medtune_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list))
            if let rangeStart { set(medtune_curl_setopt_string(handle, CURLOPT_RANGE, "\(rangeStart)-")) }
            set(medtune_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorText.baseAddress))
            set(medtune_curl_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION, headerCallback))
            set(medtune_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context))
            set(medtune_curl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, bodyCallback))
            set(medtune_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context))
            guard setup == CURLE_OK else { return setup }
            let result = curl_easy_perform(handle)
            // The buffer dies with this closure; libcurl must not keep a pointer to it.
            _ = medtune_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, nil)
            return result
        }
        if let failure = exchange.failure { throw failure }
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw TransportError(url: url, message: message, isTransient: Self.transientCodes.contains(code))
        }
    }

    private func redirectTarget() -> String? {
        var pointer: UnsafeMutablePointer<CChar>?
        guard medtune_curl_getinfo_string(handle, CURLINFO_REDIRECT_URL, &pointer) == CURLE_OK, let pointer else { return nil }
        return String(cString: pointer)
    }

    private static let transientCodes: Set<CURLcode> = [
        CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
        CURLE_OPERATION_TIMEDOUT, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_SEND_ERROR,
        CURLE_RECV_ERROR, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_SSL_CONNECT_ERROR,
    ]
}

/// Scheme, host and port: what must match for a credential to be sent.
private struct Origin: Equatable {
    let scheme: String
    let host: String
    let port: Int

    init(_ url: String) throws {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = parts.host, !host.isEmpty else {
            throw TransportError(url: url, message: "not an http(s) URL", isTransient: false)
        }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = parts.port ?? (scheme == "https" ? 443 : 80)
    }
}

/// One request and its answer, as seen from libcurl's callbacks.
private final class Exchange {
    let sink: ResponseSink?
    var status = 0
    var headers = HTTPHeaders()
    var opened = false
    var failure: Error?
    var errorBody: [UInt8] = []

    init(sink: ResponseSink?) { self.sink = sink }

    func receiveHeader(_ line: String) {
        if line.hasPrefix("HTTP/") {
            // A new status line starts a new set of headers (after a proxy's CONNECT answer, or
            // an informational 1xx).
            let fields = line.split(separator: " ")
            status = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
            headers = HTTPHeaders()
        } else {
            headers.add(line: line)
        }
    }

    /// False stops the transfer.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        switch status {
        case 200..<300:
            guard let sink else { return true }
            do {
                if !opened {
                    opened = true
                    try sink.open(status: status, headers: headers)
                }
                try sink.write(bytes)
                return true
            } catch {
                failure = error
                return false
            }
        case 300..<400:
            return true
        default:
            let room = max(0, 16_384 - errorBody.count)
            errorBody.append(contentsOf: bytes.prefix(room))
            return true
        }
    }
}

private let headerCallback: curl_write_callback = { data, size, count, context in
    let length = size * count
    guard let data, let context else { return length }
    let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: length)
    exchange.receiveHeader(String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .newlines))
    return length
}

private let bodyCallback: curl_write_callback = { data, size, count, context in
    let length = size * count
    guard let data, let context else { return length }
    let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
    return exchange.receiveBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}
