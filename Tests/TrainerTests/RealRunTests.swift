import Foundation
import MedtuneCore
import TestSupport
@testable import Trainer
import Transformer
import XCTest

/// A real fine-tuning run, end to end as `medtune train` does it: the real Qwen2.5-Coder-0.5B GGUF,
/// real medical-o1 records (Chinese) in the tutorial's template and LoRA recipe, 60 optimizer steps.
/// Records are cut to 128 tokens so that the run takes a couple of minutes on two cores.
final class RealRunTests: XCTestCase {
    func testSixtyStepsOnMedicalRecordsLowerTheValidationLoss() throws {
        let model = try TestPaths.require(TestPaths.qwenGGUF).path
        let records = try TestPaths.require(TestPaths.sharedData.appendingPathComponent("medical_o1_zh_sample.jsonl")).path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("medtune-real-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }

        var config = TrainingConfig()
        config.name = "real-run"
        config.outputDir = output.path
        config.model = model
        config.data = records
        config.limit = 128
        config.validationCount = 8
        config.maxLength = 128
        config.lossOn = .afterPrompt
        // The tutorial's LoRA and optimiser; one micro-batch per step to keep the run short.
        config.loraR = 16; config.loraAlpha = 32; config.loraDropout = 0.05
        config.targetModules = ["q_proj", "v_proj"]
        config.microBatchSize = 2; config.gradientAccumulationSteps = 1; config.maxSteps = 60
        config.learningRate = 3e-4
        config.loggingSteps = 20; config.evalSteps = 20; config.saveSteps = 30
        try config.validate(source: "test")

        XCTAssertEqual(try TrainingJob(config: config, mode: .fresh).run(observer: nil, shouldStop: { false }), .finished(step: 60))

        let metrics = try MetricsLog(path: RunFolder(path: output.path).metricsFile).records
        let validation = metrics.compactMap { record in record.valLoss.map { (record.step, $0) } }
        XCTAssertEqual(validation.map(\.0), [0, 20, 40, 60])
        let training = metrics.compactMap(\.loss)
        XCTAssertEqual(training.count, 3)
        XCTAssertTrue((training + validation.map(\.1)).allSatisfy(\.isFinite))
        let before = validation.first!.1, after = validation.last!.1
        // Held-out records only: the adapter learnt the records' language and format, not the records.
        XCTAssertLessThan(after, before - 0.05, "validation loss \(validation)")
        print("validation loss by step: \(validation.map { "\($0.0): \(String(format: "%.4f", $0.1))" }.joined(separator: ", "))")

        // The run's outputs: the adapter loads back onto the model, and the curve was drawn.
        let folder = RunFolder(path: output.path)
        for file in [folder.lossCurvePNG, folder.lossCurveSVG, folder.path + "/" + PEFTAdapter.weightsFile] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: file), file)
        }
        let tuned = try Qwen2Model<Float>.load(path: model).model
        XCTAssertNoThrow(try PEFTAdapter.load(output.path, into: tuned))
    }
}
