import Foundation
import MedtuneCore
import TestSupport
@testable import Trainer
import Transformer
import XCTest

/// The training seam's device: a run records the device it ran on, and a device that fails in
/// the middle of a step (out of GPU memory, say) stops the run with the last good state saved,
/// from which the run continues on another device exactly as if nothing had happened.
final class DeviceTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-device") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

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

    func config(_ name: String) throws -> TrainingConfig {
        let records = try TestPaths.require(TestPaths.sharedData.appendingPathComponent("medical_o1_zh_sample.jsonl")).path
        var config = TrainingConfig()
        config.name = name
        config.outputDir = directory.appendingPathComponent(name).path
        config.model = try TestPaths.require(TestPaths.qwenGGUF).path
        config.data = records
        config.limit = 8; config.maxLength = 24
        config.microBatchSize = 1; config.gradientAccumulationSteps = 2; config.maxSteps = 3
        config.loggingSteps = 1; config.evalSteps = 0; config.saveSteps = 1
        config.matmulPrecision = .float32
        try config.validate(source: "test")
        return config
    }

    func testARunRecordsItsDeviceAndSurvivesOneThatFails() throws {
        let straight = try config("straight")
        XCTAssertEqual(try TrainingJob(config: straight, mode: .fresh).run(observer: nil, shouldStop: { false }), .finished(step: 3))
        let recorded = try String(contentsOfFile: straight.resolvedOutputDir + "/config.yaml", encoding: .utf8)
        XCTAssertTrue(recorded.contains("device: cpu\n"), recorded)
        XCTAssertTrue(recorded.contains("device_name: null\n"), recorded)

        // The third pass is step 2's second micro-batch: step 1 was saved, step 2 half computed.
        let failing = TrainingDevice(name: "cuda:7", gpuName: "Test GPU", precision: .float32) { FailingModel($0, failAt: 3) }
        let moved = try config("moved")
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

    func testADeviceThatIsNotOneIsRefusedByKey() {
        var config = TrainingConfig()
        config.model = "m.gguf"; config.data = "d.jsonl"
        config.device = "gpu"
        XCTAssertThrowsError(try config.validate(source: "recipe.yaml")) { error in
            XCTAssertEqual("\(error)", "recipe.yaml: key device: expected auto, cpu, cuda or cuda:N, got 'gpu'")
        }
        config.device = "cuda:1"
        XCTAssertNoThrow(try config.validate(source: "recipe.yaml"))
    }
}
