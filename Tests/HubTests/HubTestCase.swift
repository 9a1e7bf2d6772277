import XCTest
import TestSupport
@testable import Hub

/// Shared set-up for tests that download from a `FakeHub`: a scratch folder and clients that
/// retry quickly and draw no progress.
class HubTestCase: XCTestCase {
    var scratch: URL!
    /// What the clients of `configuration` printed besides progress.
    private(set) var notices = NoticeLog()
    private var hubs: [FakeHub] = []

    static let standardFiles: [FakeHub.File] = [
        .init(path: "config.json", content: Array("{\"model_type\": \"qwen2\", \"hidden_size\": 896}\n".utf8), lfs: false),
        .init(path: "tokenizer.json", content: pattern(5_000, seed: 1), lfs: false),
        .init(path: "empty.txt", content: [], lfs: false),
        .init(path: "model.safetensors", content: pattern(300_000, seed: 2), lfs: true),
        .init(path: "weights/part-2.bin", content: pattern(200_000, seed: 3), lfs: true),
    ]

    override class func setUp() {
        super.setUp()
        // The fake hubs live on 127.0.0.1; a proxy from the environment must not get in the way.
        setenv("no_proxy", "*", 1)
    }

    override func setUpWithError() throws {
        scratch = try TestPaths.temporaryDirectory("medtune-hub")
        notices = NoticeLog()
    }

    override func tearDown() {
        hubs.forEach { $0.stop() }
        hubs.removeAll()
        try? FileManager.default.removeItem(at: scratch)
        super.tearDown()
    }

    func makeHub(_ files: [FakeHub.File] = standardFiles, token: String? = nil, gated: Bool = false) throws -> FakeHub {
        let hub = try FakeHub(files: files, token: token, gated: gated)
        hubs.append(hub)
        return hub
    }

    func configuration(_ hub: FakeHub, _ source: HubSource, token: String? = nil, jobs: Int = 4) -> HubConfiguration {
        var configuration = HubConfiguration(source: source, endpoint: hub.origin.baseURL, token: HubToken(token),
                                             cacheRoot: scratch.appendingPathComponent("cache"),
                                             jobs: jobs, retry: RetryPolicy(attempts: 3, initialDelay: 0.01, maxDelay: 0.05),
                                             timeouts: HTTPTimeouts(connectSeconds: 5, lowSpeedBytes: 1, lowSpeedSeconds: 10), progress: .never)
        configuration.notices = { [notices] in notices.append($0) }
        return configuration
    }

    func client(_ hub: FakeHub, _ source: HubSource = .huggingface, token: String? = nil, jobs: Int = 4) -> HubClient {
        HubClient(configuration(hub, source, token: token, jobs: jobs))
    }

    func request(_ repo: String = "org/repo", type: RepoType = .model, revision: String? = nil, include: [String] = [],
                 exclude: [String] = [], into folder: URL? = nil) throws -> DownloadRequest {
        DownloadRequest(repo: try RepoID(repo), type: type, revision: revision, include: include, exclude: exclude, destination: folder)
    }

    func bytes(_ url: URL) -> [UInt8]? {
        FileManager.default.contents(atPath: url.path).map { [UInt8]($0) }
    }

    /// Every listed file is in `folder` with exactly the hub's bytes, and no partial file is left.
    func assertComplete(_ folder: URL, _ hub: FakeHub, paths: [String], file: StaticString = #filePath, line: UInt = #line) {
        for path in paths {
            XCTAssertEqual(bytes(folder.appendingPathComponent(path)), hub.content(of: path), path, file: file, line: line)
        }
        let leftovers = (FileManager.default.enumerator(atPath: folder.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".incomplete") }
        XCTAssertEqual(leftovers, [], file: file, line: line)
    }

    func hubError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> HubError? {
        do {
            _ = try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as HubError {
            return error
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }
}

/// Lines collected from download threads.
final class NoticeLog: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [String] = []

    var lines: [String] {
        lock.lock(); defer { lock.unlock() }
        return collected
    }

    func append(_ line: String) {
        lock.lock(); collected.append(line); lock.unlock()
    }
}
