import XCTest
import MedtuneCore
@testable import Hub

final class NamesAndSettingsTests: XCTestCase {
    func testServerFileNamesThatEscapeAreRefused() {
        for name in ["../evil", "a/../../evil", "/etc/passwd", "a\\..\\b", "a\0b", "a//b", "./a", "", "x\ny",
                     ".medtune-download.json", "model.bin.incomplete"] {
            XCTAssertNotNil(SafePath.problem(with: name), name)
        }
        for name in ["config.json", "onnx/model.onnx", "a..b", ".gitattributes", "data/train-00000-of-00001.parquet"] {
            XCTAssertNil(SafePath.problem(with: name), name)
        }
    }

    func testIncludeAndExcludeGlobs() {
        let filter = FileFilter(include: ["*.json", "onnx/"], exclude: ["tokenizer*"])
        XCTAssertTrue(filter.accepts("config.json"))
        XCTAssertTrue(filter.accepts("sub/generation_config.json"), "* crosses folders, as in the hubs' own tools")
        XCTAssertTrue(filter.accepts("onnx/model.onnx"))
        XCTAssertFalse(filter.accepts("tokenizer.json"))
        XCTAssertFalse(filter.accepts("model.safetensors"))
        XCTAssertTrue(FileFilter(include: [], exclude: []).accepts("anything"))
    }

    func testRepositoryIDsAndReferences() throws {
        XCTAssertEqual(try RepoID("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B").components, ["deepseek-ai", "DeepSeek-R1-Distill-Qwen-7B"])
        XCTAssertEqual(try RepoID("bert-base-chinese").description, "bert-base-chinese")
        for bad in ["", "a/b/c", "../x", "a/..", "a b/c", "/a", "a/", "a/b?c"] {
            XCTAssertThrowsError(try RepoID(bad), bad)
        }
        let reference = try RepoReference(parsing: "org/repo@refs/pr/1")
        XCTAssertEqual(reference.id.description, "org/repo")
        XCTAssertEqual(reference.revision, "refs/pr/1")
        XCTAssertEqual(Revision.folderName("refs/pr/1"), "refs%2Fpr%2F1")
        XCTAssertThrowsError(try RepoReference(parsing: "org/repo@.."))
    }

    func testEnvironmentConventions() throws {
        let hf = try HubConfiguration.fromEnvironment(.huggingface, [
            "HF_ENDPOINT": "https://hf-mirror.com/", "HF_TOKEN": " hf_abc ", "HF_HUB_OFFLINE": "yes", "MEDTUNE_HOME": "/data/mt",
        ])
        XCTAssertEqual(hf.endpoint, "https://hf-mirror.com")
        XCTAssertEqual(hf.token?.value, "hf_abc")
        XCTAssertTrue(hf.offline)
        XCTAssertEqual(hf.cacheRoot.path, "/data/mt/hub")
        XCTAssertFalse("\(hf)".contains("hf_abc"), "printing a configuration must not show the token")

        let ms = try HubConfiguration.fromEnvironment(.modelscope, ["MODELSCOPE_DOMAIN": "modelscope.cn", "HOME": "/home/u", "HF_HUB_OFFLINE": "0"])
        XCTAssertEqual(ms.endpoint, "https://modelscope.cn")
        XCTAssertNil(ms.token)
        XCTAssertFalse(ms.offline)
        XCTAssertEqual(ms.cacheRoot.path, "/home/u/.cache/medtune/hub")
        XCTAssertEqual(try HubConfiguration.fromEnvironment(.modelscope, ["MODELSCOPE_ENDPOINT": "http://mirror:8080"]).endpoint, "http://mirror:8080")
        XCTAssertEqual(try HubConfiguration.fromEnvironment(.huggingface, [:]).endpoint, "https://huggingface.co")
        XCTAssertEqual(try HubConfiguration.fromEnvironment(.modelscope, [:]).endpoint, "https://www.modelscope.cn")
        XCTAssertNil(HubToken("bad\r\nX-Injected: 1"), "a token with a line break would inject headers")
    }

    func testStallTimeoutAndRetriesComeFromTheEnvironmentAndAreChecked() throws {
        let defaults = try HubConfiguration.fromEnvironment(.huggingface, [:])
        XCTAssertEqual(defaults.timeouts.lowSpeedSeconds, 60)
        XCTAssertEqual(defaults.retry.attempts, 5)

        let set = try HubConfiguration.fromEnvironment(.modelscope, ["MEDTUNE_STALL_TIMEOUT": "7", "MEDTUNE_RETRIES": "0"])
        XCTAssertEqual(set.timeouts.lowSpeedSeconds, 7)
        XCTAssertEqual(set.retry.attempts, 1, "no retries means one attempt")

        for (name, value) in [("MEDTUNE_STALL_TIMEOUT", "0"), ("MEDTUNE_STALL_TIMEOUT", "1m"), ("MEDTUNE_RETRIES", "-1"), ("MEDTUNE_RETRIES", "lots")] {
            XCTAssertThrowsError(try HubConfiguration.fromEnvironment(.huggingface, [name: value]), "\(name)=\(value)") { error in
                let text = "\(error)"
                XCTAssertTrue(error is InputError && text.contains(name) && text.contains(value) && !text.contains("\n"), text)
            }
        }
        var flags = defaults
        XCTAssertThrowsError(try flags.setRetries(-2, from: "--retries")) { XCTAssertTrue("\($0)".contains("--retries")) }
        try flags.setStallTimeout(2, from: "--stall-timeout")
        XCTAssertEqual(flags.timeouts.lowSpeedSeconds, 2)
    }

    func testCacheLayoutIsPerSourceRepositoryAndRevision() throws {
        let configuration = HubConfiguration(source: .huggingface, cacheRoot: URL(fileURLWithPath: "/c"))
        let client = HubClient(configuration)
        XCTAssertEqual(try client.cacheFolder(for: RepoID("org/repo"), type: .model).path, "/c/huggingface/models/org/repo/main")
        XCTAssertEqual(try client.cacheFolder(for: RepoID("org/data"), type: .dataset, revision: "v1").path, "/c/huggingface/datasets/org/data/v1")
    }
}
