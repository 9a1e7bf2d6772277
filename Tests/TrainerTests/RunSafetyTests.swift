import Foundation
import MedtuneCore
import TestSupport
@testable import Trainer
import Transformer
import XCTest

/// A user's run folder is never lost: `--overwrite` checks every input before it replaces an
/// earlier run and touches only what a run wrote; interrupted writes are finished or undone;
/// resumption survives kills at any moment; only finite states are saved.
final class RunSafetyTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-safety") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private let fm = FileManager.default

    /// A real 2-step job on the real 0.5B GGUF and real medical records, kept small.
    func realConfig(_ name: String, _ edit: (inout TrainingConfig) -> Void = { _ in }) throws -> TrainingConfig {
        let records = try TestPaths.require(TestPaths.sharedData.appendingPathComponent("medical_o1_zh_sample.jsonl")).path
        var config = TrainingConfig()
        config.name = name
        config.outputDir = directory.appendingPathComponent(name).path
        config.model = try TestPaths.require(TestPaths.qwenGGUF).path
        config.data = records
        config.limit = 8; config.validationCount = 2; config.maxLength = 24
        config.microBatchSize = 1; config.gradientAccumulationSteps = 1; config.maxSteps = 2
        config.loggingSteps = 1; config.evalSteps = 0; config.saveSteps = 1
        config.matmulPrecision = .float32
        edit(&config)
        try config.validate(source: "test")
        return config
    }

    /// Every file under `path` with its bytes, to compare a folder before and after.
    func snapshot(_ path: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = fm.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[name] = try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))
            }
        }
        return files
    }

    func testOverwriteKeepsTheEarlierRunWhenAnInputIsBad() throws {
        let config = try realConfig("run")
        XCTAssertEqual(try TrainingJob(config: config, mode: .fresh).run(observer: nil, shouldStop: { false }), .finished(step: 2))
        let folder = config.resolvedOutputDir
        try Data("mine".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        let before = try snapshot(folder)
        XCTAssertNotNil(before["adapter_model.safetensors"])

        let garbage = directory.appendingPathComponent("truncated.gguf").path
        try Data(try Data(contentsOf: URL(fileURLWithPath: config.model)).prefix(4096)).write(to: URL(fileURLWithPath: garbage))
        let tokenizer = directory.appendingPathComponent("tokenizer.json").path
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: tokenizer))
        let malformed = directory.appendingPathComponent("bad.jsonl").path
        try Data("{\"Question\": \"a\"\n".utf8).write(to: URL(fileURLWithPath: malformed))
        let edits: [(String, (inout TrainingConfig) -> Void)] = [
            ("missing data", { $0.data = self.directory.appendingPathComponent("missing.jsonl").path }),
            ("malformed data", { $0.data = malformed }),
            ("truncated model", { $0.model = garbage; $0.tokenizer = config.model }),
            ("invalid tokenizer", { $0.tokenizer = tokenizer }),
            ("lora_r beyond the layers", { $0.loraR = 100_000 }),
        ]
        for (what, edit) in edits {
            var bad = config
            edit(&bad)
            XCTAssertThrowsError(try TrainingJob(config: bad, mode: .overwrite).run(observer: nil, shouldStop: { false }), what)
            XCTAssertEqual(try snapshot(folder), before, "\(what): the earlier run is untouched")
        }

        // A good overwrite replaces the run's own files and leaves the user's.
        var again = config
        again.maxSteps = 1
        XCTAssertEqual(try TrainingJob(config: again, mode: .overwrite).run(observer: nil, shouldStop: { false }), .finished(step: 1))
        let after = try snapshot(folder)
        XCTAssertEqual(after["notes.txt"], Data("mine".utf8))
        XCTAssertNil(after["checkpoint-2/adapter_model.safetensors"])
        XCTAssertNotNil(after["checkpoint-1/adapter_model.safetensors"])
        XCTAssertFalse(fm.fileExists(atPath: folder + "/" + RunFolder.setAsideFolder))
    }

    func testOverwriteRefusesAFolderThatIsNotARun() throws {
        let project = directory.appendingPathComponent("project").path
        try fm.createDirectory(atPath: project + "/src", withIntermediateDirectories: true)
        try Data("name: app\n".utf8).write(to: URL(fileURLWithPath: project + "/config.yaml"))
        try Data("print(1)\n".utf8).write(to: URL(fileURLWithPath: project + "/src/app.py"))
        let before = try snapshot(project)
        XCTAssertThrowsError(try RunFolder.check(project, mode: .overwrite)) { error in
            XCTAssertTrue("\(error)".contains("not a medtune run"), "\(error)")
        }
        XCTAssertThrowsError(try RunFolder.check(project, mode: .fresh))
        XCTAssertEqual(try snapshot(project), before)
    }

    /// A replacement cut short by a kill: before the new run wrote its config the old run comes
    /// back; after, the old one is dropped.
    func testAnInterruptedReplacementIsFinishedOrUndone() throws {
        let path = directory.appendingPathComponent("run").path
        let folder = RunFolder(path: path)
        try fm.createDirectory(atPath: path + "/" + RunFolder.setAsideFolder, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: path + "/" + RunFolder.setAsideFolder + "/config.yaml"))
        try Data("old".utf8).write(to: URL(fileURLWithPath: path + "/" + RunFolder.setAsideFolder + "/metrics.jsonl"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: folder.markerPath))
        let start = try folder.begin(.resume)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder.configFile)), Data("old".utf8))
        XCTAssertFalse(fm.fileExists(atPath: path + "/" + RunFolder.setAsideFolder))
        start.commit()
    }

    /// A stand-in for a GPU backend: computes on the CPU model it wraps, and fails as a device
    /// does (a thrown error, not a crash) on its `failAt`-th training pass.
    final class FailingModel: TrainableModel {
        typealias Element = Float
        let model: Qwen2Model<Float>
        let failAt: Int
        private var passes = 0

        init(_ model: Qwen2Model<Float>, failAt: Int) { self.model = model; self.failAt = failAt }

        var layerCount: Int { model.layerCount }
        var vocabulary: Int { model.vocabulary }
        var gradientCheckpointing: Bool {
            get { model.gradientCheckpointing }
            set { model.gradientCheckpointing = newValue }
        }
        func features(_ site: AdapterSite) -> (inFeatures: Int, outFeatures: Int) { model.features(site) }
        var attachedAdapters: [(site: AdapterSite, adapter: LoRAAdapter<Float>)] { model.attachedAdapters }
        func attach(_ adapters: [(site: AdapterSite, adapter: LoRAAdapter<Float>)]) { model.attach(adapters) }

        func lossAndGradients(tokens: [Int32], labels: [Int32], pass: ForwardPass, gradScale: Float) throws -> (loss: Double, count: Int) {
            passes += 1
            if passes == failAt { throw SystemError("out of GPU memory: 1.00 GiB more were needed on Test GPU") }
            return model.lossAndGradients(tokens: tokens, labels: labels, pass: pass, gradScale: gradScale)
        }

        func loss(tokens: [Int32], labels: [Int32], pass: ForwardPass) throws -> (loss: Double, count: Int) {
            model.loss(tokens: tokens, labels: labels, pass: pass)
        }
    }

    /// A run records the device it ran on; a device that fails in the middle of a step (out of
    /// GPU memory, say) stops the run with the last good state saved, from which the run
    /// continues on another device exactly as if nothing had happened.
    func testARunRecordsItsDeviceAndSurvivesOneThatFails() throws {
        let straight = try realConfig("straight") { $0.gradientAccumulationSteps = 2; $0.maxSteps = 3; $0.validationCount = 0 }
        XCTAssertEqual(try TrainingJob(config: straight, mode: .fresh).run(observer: nil, shouldStop: { false }), .finished(step: 3))
        let recorded = try String(contentsOfFile: straight.resolvedOutputDir + "/config.yaml", encoding: .utf8)
        XCTAssertTrue(recorded.contains("device: cpu\n"), recorded)
        XCTAssertTrue(recorded.contains("device_name: null\n"), recorded)

        // The third pass is step 2's second micro-batch: step 1 was saved, step 2 half computed.
        let failing = TrainingDevice(name: "cuda:7", gpuName: "Test GPU", precision: .float32) { FailingModel($0, failAt: 3) }
        let moved = try realConfig("moved") { $0.gradientAccumulationSteps = 2; $0.maxSteps = 3; $0.validationCount = 0 }
        XCTAssertThrowsError(try TrainingJob(config: moved, mode: .fresh, device: failing).run(observer: nil, shouldStop: { false })) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("out of GPU memory: 1.00 GiB more were needed on Test GPU; the last good state is in "), text)
            XCTAssertTrue(text.hasSuffix("checkpoint-1 (--resume continues from it)"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
        let folder = RunFolder(path: moved.resolvedOutputDir)
        XCTAssertEqual(folder.checkpoints.map(\.step), [1])
        let movedConfig = try String(contentsOfFile: folder.configFile, encoding: .utf8)
        XCTAssertTrue(movedConfig.contains("device: cuda:7\n"), movedConfig)
        XCTAssertTrue(movedConfig.contains("device_name: Test GPU\n"), movedConfig)
        XCTAssertTrue(movedConfig.contains("matmul_precision: float32\n"), movedConfig)

        // Resumed on the CPU, the run ends where the uninterrupted one did, byte for byte.
        let saved = try TrainingConfig.resolve(yaml: movedConfig, source: folder.configFile)
        var requested = saved
        requested.device = "cpu"
        let kept = try TrainingJob.resumedConfig(saved: saved, requested: try TrainingJob(config: requested, mode: .resume).config,
                                                 folder: folder.path)
        XCTAssertEqual(kept.device, "cpu")
        XCTAssertEqual(try TrainingJob(config: kept, mode: .resume).run(observer: nil, shouldStop: { false }), .finished(step: 3))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder.path + "/adapter_model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: straight.resolvedOutputDir + "/adapter_model.safetensors")))
    }

    func testResumeBeforeTheFirstCheckpointStartsFromStepZero() throws {
        var config = try realConfig("early")
        config.saveSteps = 0
        XCTAssertEqual(try TrainingJob(config: config, mode: .fresh).run(observer: nil, shouldStop: { true }),
                       .interrupted(step: 0, checkpoint: RunFolder(path: config.resolvedOutputDir).checkpoint(step: 0)))
        // A kill before the first checkpoint: only the run files exist.
        try Checkpoint.remove(RunFolder(path: config.resolvedOutputDir).checkpoint(step: 0))
        XCTAssertThrowsError(try RunFolder.check(config.resolvedOutputDir, mode: .fresh)) { error in
            XCTAssertTrue("\(error)".contains("--resume"), "\(error)")
        }
        XCTAssertEqual(try TrainingJob(config: config, mode: .resume).run(observer: nil, shouldStop: { false }), .finished(step: 2))
    }

    func testResumeDropsATornLastMetricsLineAndSkipsACorruptCheckpoint() throws {
        let config = try realConfig("torn") { $0.maxSteps = 3; $0.keepCheckpoints = 3 }
        let folder = RunFolder(path: config.resolvedOutputDir)
        var checks = 0
        XCTAssertEqual(try TrainingJob(config: config, mode: .fresh).run(observer: nil, shouldStop: { checks += 1; return checks > 2 }),
                       .interrupted(step: 2, checkpoint: folder.checkpoint(step: 2)))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: folder.metricsFile))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"step\": 3, \"epo".utf8))
        try handle.close()
        // The newest checkpoint's adapter is damaged: the one before it is used, with a warning.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: folder.checkpoint(step: 2) + "/" + PEFTAdapter.weightsFile))
        let notes = Notes()
        XCTAssertEqual(try TrainingJob(config: config, mode: .resume).run(observer: notes, shouldStop: { false }), .finished(step: 3))
        XCTAssertTrue(notes.lines.contains { $0.contains("line 4") && $0.contains("cut short") }, "\(notes.lines)")
        XCTAssertTrue(notes.lines.contains { $0.contains("resuming from the older \(folder.checkpoint(step: 1))") }, "\(notes.lines)")
        let steps = try MetricsLog(path: folder.metricsFile).records.compactMap { $0.loss == nil ? nil : $0.step }
        XCTAssertEqual(steps, [1, 2, 3])
    }

    func testNonFiniteNumbersAreRefused() {
        for (key, value) in [("learning-rate", "inf"), ("lora-alpha", "1e400"), ("adam-epsilon", ".nan"), ("max-grad-norm", ".inf")] {
            XCTAssertThrowsError(try TrainingConfig.resolve(yaml: "model: m.gguf\ndata: d.jsonl\n", overrides: [ConfigOverride(key: key, value: value)])) { error in
                XCTAssertEqual("\(error)".hasPrefix("--\(key): must be a finite number"), true, "\(error)")
            }
        }
    }

    func testConfigFileKeepsChineseTemplatesReadable() throws {
        let yaml = try TrainingConfig.resolve(yaml: "model: m.gguf\ndata: d.jsonl\n").yaml()
        XCTAssertTrue(yaml.contains("诊断问题：{Question}"), yaml)
        XCTAssertFalse(yaml.contains("\\u"), yaml)
        XCTAssertEqual(try TrainingConfig.resolve(yaml: yaml).promptTemplate, "诊断问题：{Question}\n详细分析：")
    }

    func testCheckpointSwapsAndRemovalsCutShortAreRecovered() throws {
        let folder = RunFolder(path: directory.appendingPathComponent("swap").path)
        func make(_ name: String, state: Bool = true) throws {
            try fm.createDirectory(atPath: folder.path + "/" + name, withIntermediateDirectories: true)
            if state { try Data("{}".utf8).write(to: URL(fileURLWithPath: folder.path + "/" + name + "/" + Checkpoint.stateFile)) }
        }
        try make("checkpoint-best.old")            // swapped out, replacement never arrived
        try make("checkpoint-best.incomplete")     // the replacement, half-written
        try make("checkpoint-4.old")               // swapped out, replacement in place
        try make("checkpoint-4")
        try make("checkpoint-2.removed", state: false)  // removal cut short
        Checkpoint.recoverInterruptedWrites(in: folder)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: folder.path).sorted(), ["checkpoint-4", "checkpoint-best"])
        try Checkpoint.remove(folder.checkpoint(step: 4))
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: folder.path), ["checkpoint-best"])
    }

    func testATornLastMetricsLineIsDroppedButDamageElsewhereIsAnError() throws {
        let path = directory.appendingPathComponent("metrics.jsonl").path
        try Data("{\"epoch\":0,\"step\":1,\"loss\":2}\n{\"epoch\":0,\"st".utf8).write(to: URL(fileURLWithPath: path))
        let log = try MetricsLog(path: path)
        XCTAssertEqual(log.records.map(\.step), [1])
        XCTAssertEqual(log.droppedTornLine, 2)
        try Data("{\"epoch\":0,\"st\n{\"epoch\":0,\"step\":1,\"loss\":2}\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try MetricsLog(path: path)) { error in XCTAssertTrue("\(error)".contains("line 1"), "\(error)") }
    }

    func testDivergenceToTheUniformLossIsReportedOnce() {
        var watch = DivergenceWatch(vocabulary: 257)  // ln 257 = 5.55
        let losses = [3.0, 2.0, 1.5, 6.0, 5.9, 7.0, 6.5, 6.2]
        let warnings = losses.enumerated().compactMap { watch.observe(loss: $0.element, step: $0.offset + 1) }
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].hasPrefix("warning: step 6: "), warnings[0])
        // A model that starts near the uniform loss has not diverged.
        var fresh = DivergenceWatch(vocabulary: 257)
        XCTAssertTrue([5.5, 5.4, 5.45, 5.5, 5.3].enumerated().allSatisfy { fresh.observe(loss: $0.element, step: $0.offset) == nil })
    }
}

/// An observer that keeps the notes a run prints.
class Notes: TrainingObserver {
    var lines: [String] = []
    func started(totalSteps: Int, at step: Int) {}
    func stepped(_ result: StepResult, totalSteps: Int) {}
    func logged(_ record: MetricsRecord) {}
    func note(_ message: String) { lines.append(message) }
}
