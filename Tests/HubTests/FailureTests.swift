import XCTest
@testable import Hub

final class FailureTests: HubTestCase {
    func testServerErrorsAreRetriedUntilTheySucceed() throws {
        let hub = try makeHub()
        hub.queue(.status(500), for: "model.safetensors")
        hub.queue(.status(502), for: "model.safetensors")
        hub.queue(.status(429, headers: [("Retry-After", "0")]), for: "config.json")

        let result = try client(hub).download(request())
        assertComplete(result.directory, hub, paths: Self.standardFiles.map(\.path))
        XCTAssertEqual(hub.cdn.requests.filter { $0.query["path"] == "model.safetensors" }.count, 3)
    }

    func testPersistentServerErrorsGiveUpAfterTheConfiguredAttempts() throws {
        let token = "hf_SECRET_TOKEN_789"
        let hub = try makeHub(token: token)
        for _ in 0..<3 { hub.queue(.status(503), for: "model.safetensors") }

        let error = hubError { try client(hub, token: token).download(request(include: ["model.safetensors"])) }
        guard case .httpStatus(let repo, 503, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(repo, "org/repo")
        XCTAssertEqual(hub.cdn.requests.count, 3)
        XCTAssertFalse(error!.description.contains(token))
    }

    func testEveryRetryIsAnnouncedWithTheFileTheAttemptAndTheReason() throws {
        let hub = try makeHub()
        hub.queue(.status(503), for: "config.json")
        hub.queue(.status(503), for: "config.json")

        _ = try client(hub).download(request(include: ["config.json"]))
        XCTAssertEqual(notices.lines.count, 2, "\(notices.lines)")
        for (attempt, line) in notices.lines.enumerated() {
            XCTAssertTrue(line.hasPrefix("config.json: attempt \(attempt + 1) of 3 failed ("), line)
            XCTAssertTrue(line.contains("HTTP 503") && line.contains("trying again in"), line)
        }
    }

    /// The CLI's --stall-timeout 1 --retries 1, through their environment equivalents: the
    /// defaults would take five minutes of silence to give up.
    func testAStalledServerIsGivenUpOnAfterTheConfiguredTimeoutAndRetries() throws {
        let hub = try makeHub()
        hub.queue(.stall(after: 0), for: "model.safetensors")
        hub.queue(.stall(after: 0), for: "model.safetensors")
        var settings = try HubConfiguration.fromEnvironment(.huggingface, [
            "HF_ENDPOINT": hub.origin.baseURL, "MEDTUNE_HOME": scratch.path, "MEDTUNE_STALL_TIMEOUT": "1", "MEDTUNE_RETRIES": "1",
        ])
        settings.progress = .never
        settings.notices = { [notices] in notices.append($0) }

        let started = Date()
        let error = hubError { try HubClient(settings).download(request(include: ["model.safetensors"])) }
        let seconds = Date().timeIntervalSince(started)
        guard case .transport(let url, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(url.contains("model.safetensors"), url)
        XCTAssertEqual(hub.cdn.requests.count, 2, "one retry")
        XCTAssertLessThan(seconds, 8, "two 1-second stalls and a 1-second pause")
        XCTAssertEqual(notices.lines.count, 1, "\(notices.lines)")
        XCTAssertTrue(notices.lines.first?.hasPrefix("model.safetensors: attempt 1 of 2 failed (") ?? false, "\(notices.lines)")
    }

    /// A 64 MB body for a file listed at 44 bytes: medtune stops reading once the body is longer
    /// than listed, rather than after the last byte, and does not fetch it again.
    func testABodyLongerThanTheListedSizeIsCutOffAndRefused() throws {
        let hub = try makeHub()
        let size = try XCTUnwrap(hub.content(of: "config.json")).count
        hub.queue(.oversized(extra: 64 << 20), for: "config.json")
        let folder = scratch.appendingPathComponent("oversized")

        guard let error = hubError({ try client(hub).download(request(include: ["config.json"], into: folder)) }) else { return }
        XCTAssertEqual(error, .oversized(file: "config.json", size: Int64(size)))
        XCTAssertTrue(error.description.hasPrefix("config.json: ") && !error.description.contains("\n"), error.description)
        XCTAssertLessThan(hub.origin.bodyBytesSent, 16 << 20, "the client hung up long before the end")
        XCTAssertEqual(hub.contentRequests(for: "config.json").count, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json.incomplete").path))
    }

    func testAnUnknownRepositoryIsNamedWithWhatToCheck() throws {
        let hub = try makeHub()
        let error = hubError { try client(hub).download(request("org/nothing")) }
        XCTAssertEqual(error, .notFound(repo: "org/nothing", revision: "main", file: nil, reason: .repository))
        XCTAssertTrue(error!.description.contains("org/nothing") && error!.description.contains("check the id"))

        let revision = hubError { try client(hub).download(request(revision: "v9")) }
        XCTAssertEqual(revision, .notFound(repo: "org/repo", revision: "v9", file: nil, reason: .revision))
        XCTAssertTrue(revision!.description.contains("--revision"))
    }

    func testAGatedRepositoryExplainsTheLicenceAndTokenWithoutShowingTheToken() throws {
        let wrongToken = "hf_WRONG_SECRET_000"
        let hub = try makeHub(token: "hf_right", gated: true)
        let error = hubError { try client(hub, token: wrongToken).download(request()) }
        guard case .accessDenied(_, 401, true, .huggingface, let page)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(page, hub.origin.baseURL + "/org/repo")
        let text = error!.description
        XCTAssertTrue(text.contains("licence") && text.contains("HF_TOKEN") && text.contains("org/repo"), text)
        XCTAssertFalse(text.contains(wrongToken))
        XCTAssertFalse(text.contains("\n"))
    }

    func testAPrivateModelScopeRepositoryNamesItsTokenVariable() throws {
        let hub = try makeHub(token: "ms-right")
        let error = hubError { try client(hub, .modelscope).download(request()) }
        guard case .accessDenied(_, 401, false, .modelscope, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(error!.description.contains("MODELSCOPE_API_TOKEN"))
    }

    func testFileNamesThatEscapeTheFolderAreRefusedBeforeAnythingIsWritten() throws {
        for hostile in ["../evil", "/etc/passwd", "weights\\..\\..\\evil"] {
            let hub = try makeHub()
            hub.list(extra: [hostile])
            let folder = scratch.appendingPathComponent("inside/target")
            let error = hubError { try client(hub).download(request(into: folder)) }
            guard case .unsafeFileName(_, let name, _)? = error else { return XCTFail("\(hostile): \(String(describing: error))") }
            XCTAssertEqual(name, hostile)
            XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("inside/evil").path))
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path), "nothing is written")
            XCTAssertEqual(hub.cdn.requests.count, 0)
        }
    }

    func testASymbolicLinkLeadingOutOfTheFolderIsNotFollowed() throws {
        let hub = try makeHub()
        let folder = scratch.appendingPathComponent("linked")
        let outside = scratch.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("weights"), withDestinationURL: outside)

        let error = hubError { try client(hub).download(request(into: folder)) }
        guard case .unsafeFileName(_, "weights/part-2.bin", let reason)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(reason.contains("symbolic link"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outside.path), [])
    }

    func testOfflineWithoutACachedCopyIsAClearErrorAndMakesNoRequest() throws {
        let hub = try makeHub()
        var settings = configuration(hub, .huggingface)
        settings.offline = true
        let error = hubError { try HubClient(settings).download(request()) }
        guard case .offline(let repo, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(repo, "org/repo")
        XCTAssertTrue(error!.description.contains("HF_HUB_OFFLINE"))
        XCTAssertEqual(hub.origin.requests.count, 0)
    }

    func testAFullDiskStopsCleanlyKeepsThePartialFileAndResumesLater() throws {
        let hub = try makeHub()
        let folder = scratch.appendingPathComponent("full")
        var settings = configuration(hub, .huggingface, jobs: 1)
        // Room for 150 kB per file: the 300 kB model runs out of space midway.
        settings.writer = ChunkWriter { fd, bytes, offset in
            if offset + Int64(bytes.count) > 150_000 { throw WriteFailure(code: ENOSPC) }
            try ChunkWriter.posix.write(fd, bytes, offset)
        }
        let error = hubError { try HubClient(settings).download(request(into: folder)) }
        XCTAssertEqual(error, .diskFull(file: folder.appendingPathComponent("model.safetensors").path))
        XCTAssertFalse(error!.description.contains("\n"))
        // Files finished before the model (listing order, one at a time) stay.
        assertCompleteFiles(folder, hub, ["config.json", "tokenizer.json", "empty.txt"])
        let partial = try XCTUnwrap(bytes(folder.appendingPathComponent("model.safetensors.incomplete")))
        XCTAssertGreaterThan(partial.count, 0)
        XCTAssertEqual(partial, Array(try XCTUnwrap(hub.content(of: "model.safetensors")).prefix(partial.count)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("weights/part-2.bin").path))

        _ = try client(hub).download(request(into: folder))
        assertComplete(folder, hub, paths: Self.standardFiles.map(\.path))
        XCTAssertEqual(hub.cdn.requests.filter { $0.query["path"] == "model.safetensors" }.last?.headers["range"], "bytes=\(partial.count)-")
    }

    private func assertCompleteFiles(_ folder: URL, _ hub: FakeHub, _ paths: [String], line: UInt = #line) {
        for path in paths {
            XCTAssertEqual(bytes(folder.appendingPathComponent(path)), hub.content(of: path), path, line: line)
        }
    }
}
