import XCTest
@testable import Hub

final class DownloadTests: HubTestCase {
    private var allPaths: [String] { Self.standardFiles.map(\.path) }

    func testHuggingFaceRepositoryFollowsTheCDNRedirectWithoutForwardingTheToken() throws {
        let token = "hf_SECRET_TOKEN_123"
        let hub = try makeHub(token: token)
        let result = try client(hub, token: token).download(request())

        XCTAssertEqual(result.directory.path, scratch.appendingPathComponent("cache/huggingface/models/org/repo/main").path)
        XCTAssertEqual(Set(result.files), Set(allPaths))
        XCTAssertEqual(result.commit, FakeHub.commit)
        assertComplete(result.directory, hub, paths: allPaths)
        XCTAssertTrue(hub.origin.requests.allSatisfy { $0.headers["authorization"] == "Bearer \(token)" })
        XCTAssertEqual(hub.cdn.requests.count, 2, "both LFS files come from the CDN")
        XCTAssertTrue(hub.cdn.requests.allSatisfy { $0.headers["authorization"] == nil && $0.headers["cookie"] == nil },
                      "the token must not follow a redirect to another host")
        XCTAssertEqual(hub.origin.requests.first?.path, "/api/models/org/repo/revision/main")
        XCTAssertEqual(hub.origin.requests.first?.query["blobs"], "true")
    }

    func testASecondRunAndAnOfflineRunReuseTheCheckedFiles() throws {
        let hub = try makeHub()
        let first = try client(hub).download(request())
        let requestsAfterFirst = hub.origin.requests.count + hub.cdn.requests.count

        let second = try client(hub).download(request())
        XCTAssertEqual(second.downloaded, [])
        XCTAssertEqual(second.directory, first.directory)
        XCTAssertEqual(hub.origin.requests.count + hub.cdn.requests.count, requestsAfterFirst + 1, "only the listing is asked again")

        var offline = configuration(hub, .huggingface)
        offline.offline = true
        let cached = try HubClient(offline).download(request())
        XCTAssertEqual(cached.directory, first.directory)
        XCTAssertEqual(Set(cached.files), Set(allPaths))
        XCTAssertEqual(hub.origin.requests.count + hub.cdn.requests.count, requestsAfterFirst + 1, "offline means no request at all")
    }

    func testModelScopeModelPresentsTheTokenAsItsSessionCookieOnlyToTheHub() throws {
        let token = "ms-SECRET-456"
        let hub = try makeHub(token: token)
        let result = try client(hub, .modelscope, token: token).download(request())

        XCTAssertEqual(result.directory.path, scratch.appendingPathComponent("cache/modelscope/models/org/repo/master").path)
        assertComplete(result.directory, hub, paths: allPaths)
        XCTAssertEqual(hub.origin.requests.first?.path, "/api/v1/models/org/repo/repo/files")
        XCTAssertEqual(hub.origin.requests.first?.query["Revision"], "master")
        XCTAssertEqual(hub.origin.requests.first?.query["Recursive"], "true")
        XCTAssertTrue(hub.origin.requests.allSatisfy { $0.headers["cookie"] == "m_session_id=\(token)" })
        XCTAssertTrue(hub.cdn.requests.allSatisfy { $0.headers["cookie"] == nil && $0.headers["authorization"] == nil })
    }

    func testModelScopeDatasetIsListedPageByPage() throws {
        let many = (0..<130).map { FakeHub.File(path: "data/part-\($0).jsonl", content: pattern(50 + $0, seed: UInt8($0 % 200)), lfs: false) }
        let files = many + [FakeHub.File(path: "medical_o1_sft.json", content: pattern(120_000, seed: 9), lfs: true)]
        let hub = try makeHub(files)
        let result = try client(hub, .modelscope, jobs: 8).download(request(type: .dataset))

        XCTAssertEqual(result.directory.path, scratch.appendingPathComponent("cache/modelscope/datasets/org/repo/master").path)
        XCTAssertEqual(result.files.count, 131, "the folder entry in the tree is not a file")
        assertComplete(result.directory, hub, paths: files.map(\.path))
        let pages = hub.origin.requests.filter { $0.path.hasSuffix("/repo/tree") }.compactMap { $0.query["PageNumber"] }
        XCTAssertEqual(pages, ["1", "2"])
        XCTAssertTrue(hub.origin.requests.contains { $0.path == "/api/v1/datasets/org/repo/repo" && $0.query["FilePath"] == "data/part-7.jsonl" })
    }

    func testHuggingFaceDatasetUsesTheDatasetsPaths() throws {
        let hub = try makeHub()
        let result = try client(hub).download(request(type: .dataset, revision: "v1", include: ["config.json"]))
        XCTAssertEqual(result.directory.path, scratch.appendingPathComponent("cache/huggingface/datasets/org/repo/v1").path)
        XCTAssertEqual(hub.origin.requests.map(\.path), ["/api/datasets/org/repo/revision/v1", "/datasets/org/repo/resolve/v1/config.json"])
    }

    func testIncludeAndExcludeSelectFiles() throws {
        let hub = try makeHub()
        let folder = scratch.appendingPathComponent("chosen")
        let result = try client(hub).download(request(include: ["*.json", "weights/"], exclude: ["tokenizer*"], into: folder))
        XCTAssertEqual(Set(result.files), ["config.json", "weights/part-2.bin"])
        assertComplete(folder, hub, paths: ["config.json", "weights/part-2.bin"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path))
        XCTAssertEqual(hub.contentRequests(for: "model.safetensors").count, 0)
    }

    func testAnInterruptedFileResumesWithARangeRequest() throws {
        let hub = try makeHub()
        let folder = scratch.appendingPathComponent("resume")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let full = try XCTUnwrap(hub.content(of: "model.safetensors"))
        try Data(full.prefix(100_000)).write(to: folder.appendingPathComponent("model.safetensors.incomplete"))

        _ = try client(hub).download(request(into: folder))
        assertComplete(folder, hub, paths: allPaths)
        XCTAssertEqual(hub.cdn.requests.filter { $0.query["path"] == "model.safetensors" }.map { $0.headers["range"] }, ["bytes=100000-"])
    }

    /// These two use a file the listing gives no size or digest for, so that only the range
    /// check itself can keep the file right.
    func testAServerThatIgnoresTheRangeIsReadFromTheStart() throws {
        let hub = try makeHub()
        hub.listNamesOnly()
        let folder = scratch.appendingPathComponent("ignored")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let full = try XCTUnwrap(hub.content(of: "tokenizer.json"))
        // A stale partial file whose bytes are wrong: only a restart from zero can end well.
        try Data(full.prefix(2_000).map { $0 ^ 0x55 }).write(to: folder.appendingPathComponent("tokenizer.json.incomplete"))
        hub.queue(.ignoreRange, for: "tokenizer.json")

        _ = try client(hub).download(request(include: ["tokenizer.json"], into: folder))
        assertComplete(folder, hub, paths: ["tokenizer.json"])
        XCTAssertEqual(hub.contentRequests(for: "tokenizer.json").map { $0.headers["range"] }, ["bytes=2000-"])
    }

    func testAWrongContentRangeRestartsFromZero() throws {
        let hub = try makeHub()
        hub.listNamesOnly()
        let folder = scratch.appendingPathComponent("wrong-range")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let full = try XCTUnwrap(hub.content(of: "tokenizer.json"))
        try Data(full.prefix(2_000)).write(to: folder.appendingPathComponent("tokenizer.json.incomplete"))
        hub.queue(.wrongRange, for: "tokenizer.json")

        _ = try client(hub).download(request(include: ["tokenizer.json"], into: folder))
        assertComplete(folder, hub, paths: ["tokenizer.json"])
        XCTAssertEqual(hub.contentRequests(for: "tokenizer.json").map { $0.headers["range"] }, ["bytes=2000-", nil])
    }

    func testADroppedConnectionIsResumedWhereItStopped() throws {
        let hub = try makeHub()
        hub.queue(.drop(after: 70_000), for: "model.safetensors")
        hub.queue(.drop(after: 1_000), for: "config.json")

        let result = try client(hub).download(request())
        assertComplete(result.directory, hub, paths: allPaths)
        XCTAssertEqual(hub.cdn.requests.filter { $0.query["path"] == "model.safetensors" }.map { $0.headers["range"] }, [nil, "bytes=70000-"])
    }

    /// The server would finish after its pause; a second request shows medtune gave up on the
    /// silent connection first and tried again.
    func testAStalledTransferTimesOutAndIsTriedAgain() throws {
        let hub = try makeHub()
        hub.queue(.stall(after: 0), for: "model.safetensors")
        var settings = configuration(hub, .huggingface)
        settings.timeouts = HTTPTimeouts(connectSeconds: 5, lowSpeedBytes: 1, lowSpeedSeconds: 1)

        let result = try HubClient(settings).download(request(include: ["model.safetensors"]))
        assertComplete(result.directory, hub, paths: ["model.safetensors"])
        XCTAssertEqual(hub.cdn.requests.count, 2)
    }

    func testAFileThatArrivesCorruptIsFetchedAgain() throws {
        let hub = try makeHub()
        hub.queue(.corrupt, for: "tokenizer.json") // checked by its git blob id
        hub.queue(.corrupt, for: "model.safetensors") // checked by its LFS SHA-256

        let result = try client(hub).download(request())
        assertComplete(result.directory, hub, paths: allPaths)
        XCTAssertEqual(hub.contentRequests(for: "tokenizer.json").count, 2)
        XCTAssertEqual(hub.cdn.requests.filter { $0.query["path"] == "model.safetensors" }.count, 2)
    }

    func testAFileCorruptTwiceIsAnErrorAndLeavesNothingBehind() throws {
        let hub = try makeHub()
        hub.queue(.corrupt, for: "model.safetensors")
        hub.queue(.corrupt, for: "model.safetensors")
        let folder = scratch.appendingPathComponent("corrupt")

        let error = hubError { try client(hub, jobs: 1).download(request(include: ["model.safetensors"], into: folder)) }
        guard case .integrity(let file, _, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(file, "model.safetensors")
        XCTAssertTrue(error!.description.contains("SHA-256"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("model.safetensors.incomplete").path))
    }

    func testADamagedFileOnDiskIsDetectedAndReplaced() throws {
        let hub = try makeHub()
        let first = try client(hub).download(request())
        let damaged = first.directory.appendingPathComponent("weights/part-2.bin")
        var content = try XCTUnwrap(bytes(damaged))
        content[1234] ^= 1
        try Data(content).write(to: damaged)

        let second = try client(hub).download(request())
        XCTAssertEqual(second.replaced, ["weights/part-2.bin"])
        XCTAssertEqual(second.downloaded, ["weights/part-2.bin"])
        assertComplete(second.directory, hub, paths: allPaths)
    }

    func testARenamedRepositoryRedirectsWithinTheHubAndKeepsTheToken() throws {
        let token = "hf_SECRET_TOKEN_321"
        let hub = try makeHub(token: token)
        let result = try client(hub, token: token).download(request("old/name", include: ["config.json"]))
        assertComplete(result.directory, hub, paths: ["config.json"])
        XCTAssertEqual(hub.origin.requests.map(\.path).prefix(2), ["/api/models/old/name/revision/main", "/api/models/org/repo/revision/main"])
        XCTAssertTrue(hub.origin.requests.allSatisfy { $0.headers["authorization"] == "Bearer \(token)" })
    }

    /// Without sizes and digests in the listing, the hub's X-Linked-Size and X-Linked-Etag on
    /// the redirect still catch a corrupt file.
    func testTheHubsLinkedHeadersCheckFilesTheListingSaysNothingAbout() throws {
        let hub = try makeHub()
        hub.listNamesOnly()
        let result = try client(hub).download(request())
        assertComplete(result.directory, hub, paths: allPaths)

        hub.queue(.corrupt, for: "weights/part-2.bin")
        hub.queue(.corrupt, for: "weights/part-2.bin")
        let error = hubError { try client(hub).download(request(include: ["weights/*"], into: scratch.appendingPathComponent("bare"))) }
        guard case .integrity("weights/part-2.bin", let expected, _)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(expected, "SHA-256 \(sha256(try XCTUnwrap(hub.content(of: "weights/part-2.bin"))))")
    }

    func testResolveModelTakesPathsAndRepositoryIDs() throws {
        let hub = try makeHub()
        let environment = ["MEDTUNE_HOME": scratch.path, "MEDTUNE_HUB_SOURCE": "huggingface", "HF_ENDPOINT": hub.origin.baseURL]
        let quiet: (inout HubConfiguration) -> Void = { $0.progress = .never }

        XCTAssertEqual(try Hub.resolveModel(scratch.path, allowDownload: false, environment: environment).path, scratch.path)
        XCTAssertThrowsError(try Hub.resolveModel("org/repo", allowDownload: false, environment: environment, configure: quiet)) { error in
            XCTAssertTrue("\(error)".contains("medtune download org/repo"), "\(error)")
        }
        XCTAssertEqual(hub.origin.requests.count, 0)

        let downloaded = try Hub.resolveModel("org/repo", allowDownload: true, environment: environment, configure: quiet)
        XCTAssertEqual(downloaded.path, scratch.appendingPathComponent("hub/huggingface/models/org/repo/main").path)
        assertComplete(downloaded, hub, paths: allPaths)
        let served = hub.origin.requests.count

        XCTAssertEqual(try Hub.resolveModel("org/repo", allowDownload: false, environment: environment, configure: quiet), downloaded)
        XCTAssertEqual(hub.origin.requests.count, served, "a cached repository needs no request")
        XCTAssertThrowsError(try Hub.resolveModel("no such/path", allowDownload: true, environment: environment))
    }
}
