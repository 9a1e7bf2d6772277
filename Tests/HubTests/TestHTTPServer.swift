import Foundation

/// A small HTTP/1.1 server on 127.0.0.1 for tests: an ephemeral port, one thread per
/// connection, one request per connection (`Connection: close`). It serves at most
/// `maxRequests` requests and stops by itself after `lifetime` seconds, so a test that goes
/// wrong cannot leave it running.
final class TestHTTPServer: @unchecked Sendable {
    struct Request {
        var method: String
        /// The percent-decoded path, without the query.
        var path: String
        var query: [String: String]
        /// Header values by lower-cased name.
        var headers: [String: String]
    }

    struct Response {
        var status: Int
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        /// Close the connection after this many body bytes, although `Content-Length` promised all.
        var dropAfter: Int? = nil
        /// Go silent for a while after this many body bytes, as a stalled connection does, then
        /// send the rest.
        var pause: (after: Int, seconds: Double)? = nil

        static func json(_ text: String) -> Response {
            Response(status: 200, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
        }
    }

    let port: UInt16
    var baseURL: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let handler: (Request) -> Response
    private let maxRequests: Int
    private let lock = NSLock()
    private var log: [Request] = []
    private var sentBodyBytes = 0
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    init(maxRequests: Int = 500, lifetime: Double = 60, handler: @escaping (Request) -> Response) throws {
        self.handler = handler
        self.maxRequests = maxRequests
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let deadline = Date().addingTimeInterval(lifetime)
        Thread { [self] in acceptLoop(until: deadline) }.start()
    }

    deinit { stop() }

    /// Every request served so far, in order of arrival.
    var requests: [Request] {
        lock.lock(); defer { lock.unlock() }
        return log
    }

    /// Response body bytes the kernel took from this server so far, over all connections: an
    /// upper bound on what clients read.
    var bodyBytesSent: Int {
        lock.lock(); defer { lock.unlock() }
        return sentBodyBytes
    }

    func stop() {
        lock.lock()
        let wasRunning = !stopped
        stopped = true
        lock.unlock()
        if wasRunning { finished.wait() }
    }

    private var isStopped: Bool {
        lock.lock(); defer { lock.unlock() }
        return stopped || log.count >= maxRequests
    }

    private func acceptLoop(until deadline: Date) {
        defer {
            close(listener)
            finished.signal()
        }
        while !isStopped && Date() < deadline {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            Thread { [self] in serve(connection) }.start()
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let request = readRequest(connection) else { return }
        lock.lock()
        log.append(request)
        lock.unlock()
        let response = handler(request)
        var head = "HTTP/1.1 \(response.status) Status\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(response.body.count)\r\nConnection: close\r\n\r\n"
        guard send(connection, Array(head.utf8), isBody: false) else { return }
        var body = response.dropAfter.map { Array(response.body.prefix($0)) } ?? response.body
        if let pause = response.pause {
            guard send(connection, Array(body.prefix(pause.after))) else { return }
            Thread.sleep(forTimeInterval: pause.seconds)
            body = Array(body.dropFirst(pause.after))
        }
        _ = send(connection, body)
    }

    private func send(_ connection: Int32, _ bytes: [UInt8], isBody: Bool = true) -> Bool {
        var sent = 0
        // Small pieces, so that the count stops close to where the client hung up.
        let piece = 64 << 10
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes {
                Glibc.send(connection, $0.baseAddress! + sent, min(piece, bytes.count - sent), Int32(MSG_NOSIGNAL))
            }
            if count <= 0 { return false }
            sent += count
            if isBody { lock.lock(); sentBodyBytes += count; lock.unlock() }
        }
        return true
    }

    private func readRequest(_ connection: Int32) -> Request? {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while data.count < 65536 {
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            data += chunk[0..<count]
            if data.count >= 4, (0...(data.count - 4)).contains(where: { Array(data[$0..<$0 + 4]) == end }) { break }
        }
        let lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2 else { return nil }
        let target = String(parts[1])
        let pieces = target.split(separator: "?", maxSplits: 1).map(String.init)
        var query: [String: String] = [:]
        if pieces.count > 1 {
            for pair in pieces[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                query[kv[0]] = kv.count > 1 ? (kv[1].removingPercentEncoding ?? kv[1]) : ""
            }
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Request(method: String(parts[0]), path: pieces[0].removingPercentEncoding ?? pieces[0], query: query, headers: headers)
    }
}
