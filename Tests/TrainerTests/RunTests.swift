import Foundation
import MedtuneCore
import ModelFiles
import TestSupport
@testable import Trainer
import Transformer
import XCTest

/// Whole runs on a tiny model: outputs, checkpoints, interruption and resumption, NaN handling.
final class RunTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-run") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    let config = Fixture.config { c in
        c.loraR = 2; c.loraAlpha = 4; c.loraDropout = 0.1
        c.targetModules = ["q_proj", "v_proj", "up_proj"]
        c.microBatchSize = 1; c.gradientAccumulationSteps = 2
        c.maxSteps = 6; c.learningRate = 1e-2; c.warmupSteps = 2
        c.loggingSteps = 1; c.evalSteps = 2; c.saveSteps = 0; c.validationCount = 2
    }

    var data: TrainingData {
        let texts = (0..<12).map { "record \($0): " + String(repeating: "ab", count: 1 + $0 % 4) }
        return try! TrainingData.prepare(Fixture.records(texts.map { ["text": $0] }), file: "t.jsonl", config: config, tokenizer: ByteTokenizer())
    }

    /// The folder checked and claimed for a run, as TrainingJob does once its inputs are read.
    func prepare(_ path: String, mode: RunFolder.Mode) throws -> RunFolder {
        let folder = try RunFolder.check(path, mode: mode)
        try folder.begin(mode).commit()
        return folder
    }

    func start(_ name: String, mode: RunFolder.Mode = .fresh, stopAt: Int? = nil) throws -> (TrainingRun<Float>, RunFolder) {
        let folder = try prepare(directory.appendingPathComponent(name).path, mode: mode)
        let model: Qwen2Model<Float> = Fixture.model(config)
        let trainer = try LoRATrainer.prepare(model: model, data: data, config: config, padID: 0,
                                              resumeFrom: mode == .resume ? folder.checkpoints.last?.path : nil)
        if mode != .resume { try folder.writeRunFiles(config: config, data: data) }
        let metrics = try MetricsLog(path: folder.metricsFile, keepThrough: trainer.progress.step)
        return (TrainingRun(trainer: trainer, folder: folder, metrics: metrics, shouldStop: { trainer.progress.step == stopAt }), folder)
    }

    /// Six steps straight, and three + interrupt + three after rebuilding everything from the
    /// checkpoint, give the same adapter bit for bit and the same logged losses.
    func testInterruptedAndResumedRunEqualsAnUninterruptedOne() throws {
        let (straight, straightFolder) = try start("straight")
        XCTAssertEqual(try straight.run(), .finished(step: 6))

        let (first, folder) = try start("resumed", stopAt: 3)
        XCTAssertEqual(try first.run(), .interrupted(step: 3, checkpoint: folder.checkpoint(step: 3)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path + "/" + PEFTAdapter.weightsFile))
        let state = try Checkpoint.readState(folder.checkpoint(step: 3))
        XCTAssertEqual(state.progress.step, 3)
        XCTAssertEqual(state.epoch, 0)
        XCTAssertEqual(state.nextMicroBatch, 6)
        XCTAssertThrowsError(try RunFolder.check(folder.path, mode: .fresh)) { error in
            XCTAssertTrue("\(error)".contains("pass --resume to continue it or --overwrite to start again"), "\(error)")
        }

        let (second, _) = try start("resumed", mode: .resume)
        XCTAssertEqual(second.trainer.progress.step, 3)
        XCTAssertEqual(try second.run(), .finished(step: 6))

        let a = try Data(contentsOf: URL(fileURLWithPath: straightFolder.path + "/" + PEFTAdapter.weightsFile))
        let b = try Data(contentsOf: URL(fileURLWithPath: folder.path + "/" + PEFTAdapter.weightsFile))
        XCTAssertEqual(a, b, "adapters differ")
        XCTAssertEqual(straight.trainer.parameters.flatMap { $0.value.array.map(\.bitPattern) },
                       second.trainer.parameters.flatMap { $0.value.array.map(\.bitPattern) })
        func losses(_ run: TrainingRun<Float>) throws -> [[Double?]] {
            try MetricsLog(path: run.folder.metricsFile).records.map { [Double($0.step), $0.loss, $0.valLoss, $0.learningRate, $0.gradNorm] }
        }
        XCTAssertEqual(try losses(straight).count, 7)
        XCTAssertEqual(try losses(straight), try losses(second))
    }

    func testRunWritesItsOutputs() throws {
        let (run, folder) = try start("outputs")
        _ = try run.run()
        let fm = FileManager.default
        for file in ["adapter_config.json", "adapter_model.safetensors", "config.yaml", "heldout_ids.json", "metrics.jsonl",
                     "loss_curve.png", "loss_curve.svg", "checkpoint-6/trainer_state.json", "checkpoint-best/adapter_model.safetensors"] {
            XCTAssertTrue(fm.fileExists(atPath: folder.path + "/" + file), file)
        }
        let held = try JSONDecoder().decode([Int].self, from: Data(contentsOf: URL(fileURLWithPath: folder.heldOutFile)))
        XCTAssertEqual(held, data.heldOutIndices)
        XCTAssertEqual(held.count, 2)
        XCTAssertEqual(try TrainingConfig.resolve(yaml: String(contentsOfFile: folder.configFile, encoding: .utf8)), config)

        var records = try MetricsLog(path: folder.metricsFile).records
        XCTAssertEqual(records.map(\.step), [0, 1, 2, 3, 4, 5, 6])
        XCTAssertEqual(records.compactMap(\.valLoss).count, 4, "the baseline and every second step")
        XCTAssertNil(records[0].loss)
        records.removeFirst()
        XCTAssertTrue(records.allSatisfy { $0.loss != nil && $0.learningRate != nil && $0.gradNorm != nil && ($0.tokensPerSecond ?? 0) > 0 })
        XCTAssertEqual(records[0].learningRate, 0, "the first warm-up step has rate 0")
        XCTAssertEqual(records[1].learningRate!, 5e-3, accuracy: 1e-15)
        XCTAssertEqual(records.last!.epoch, 1.2, accuracy: 1e-12, "10 records in micro-batches of 1 × 2 make 5 steps an epoch")

        // The best checkpoint is the one with the lowest validation loss.
        let best = try Checkpoint.readState(folder.bestCheckpoint)
        let lowest = records.compactMap { r in r.valLoss.map { (r.step, $0) } }.min { $0.1 < $1.1 }!
        XCTAssertEqual(best.progress.bestStep, lowest.0)
        XCTAssertEqual(best.progress.step, lowest.0)

        // The saved adapter is PEFT's format and loads back into the model it came from.
        let saved = try PEFTAdapterConfig(file: folder.path + "/adapter_config.json")
        XCTAssertEqual(saved.r, 2)
        XCTAssertEqual(saved.targetModules, ["q_proj", "v_proj", "up_proj"])
        let model: Qwen2Model<Float> = Fixture.model(config, seed: 99)
        try LoRASetup.attach(to: model, config: config, from: folder.path)
        XCTAssertEqual(LoRASetup.parameters(of: model).map { $0.value.array }, run.trainer.parameters.map { $0.value.array })
        let file = try SafetensorsFile(path: folder.path + "/adapter_model.safetensors")
        XCTAssertEqual(file.tensorEntries.first { $0.name == "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" }?.shape, [2, 16])
        XCTAssertEqual(file.tensorEntries.first { $0.name == "base_model.model.model.layers.1.mlp.up_proj.lora_B.weight" }?.shape, [24, 2])
    }

    func testInitAdapterStartsFromAnExistingAdapterAndMustMatch() throws {
        let (run, folder) = try start("source")
        _ = try run.run()
        var continued = config
        continued.initAdapter = folder.path
        let model: Qwen2Model<Float> = Fixture.model(continued)
        let trainer = try LoRATrainer.prepare(model: model, data: data, config: continued, padID: 0)
        XCTAssertEqual(trainer.parameters.map { $0.value.array }, run.trainer.parameters.map { $0.value.array })
        XCTAssertEqual(trainer.progress.step, 0)
        var otherRank = continued
        otherRank.loraR = 4
        XCTAssertThrowsError(try LoRATrainer.prepare(model: Fixture.model(otherRank) as Qwen2Model<Float>, data: data, config: otherRank, padID: 0)) { error in
            XCTAssertTrue("\(error)".hasSuffix("the adapter has r = 2, the run's lora_r is 4"), "\(error)")
        }
    }

    /// A NaN that enters the computation (here through a frozen norm weight) stops the run at the
    /// next step without applying it, and the state after the last good step is saved.
    func testNonFiniteStepStopsAndKeepsTheLastGoodState() throws {
        let folder = try prepare(directory.appendingPathComponent("nan").path, mode: .fresh)
        let model: Qwen2Model<Float> = Fixture.model(config)
        let trainer = try LoRATrainer.prepare(model: model, data: data, config: config, padID: 0)
        var good: [[Float]] = []
        let run = TrainingRun(trainer: trainer, folder: folder, metrics: try MetricsLog(path: folder.metricsFile), shouldStop: {
            if trainer.progress.step == 2 {
                good = trainer.parameters.map { $0.value.array }
                model.layers[1].inputNorm[0] = .nan
            }
            return false
        })
        XCTAssertThrowsError(try run.run()) { error in
            XCTAssertTrue(error is TrainingStopped)
            XCTAssertTrue("\(error)".hasPrefix("step 3: the "), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("the last good state is in \(folder.checkpoint(step: 2)) (--resume continues from it)"), "\(error)")
        }
        XCTAssertEqual(trainer.progress.step, 2)
        XCTAssertEqual(good, trainer.parameters.map { $0.value.array }, "the failed step changed nothing")
        let reloaded: Qwen2Model<Float> = Fixture.model(config)
        try LoRASetup.attach(to: reloaded, config: config, from: folder.checkpoint(step: 2))
        XCTAssertEqual(LoRASetup.parameters(of: reloaded).map { $0.value.array }, good)
    }

    func testOutputFolderIsNeverOverwrittenByAccident() throws {
        let path = directory.appendingPathComponent("user").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: URL(fileURLWithPath: path + "/notes.txt"))
        XCTAssertThrowsError(try RunFolder.check(path, mode: .fresh))
        XCTAssertThrowsError(try RunFolder.check(path, mode: .overwrite)) { error in
            XCTAssertTrue("\(error)".contains("not a medtune run"), "\(error)")
        }
        XCTAssertThrowsError(try RunFolder.check(path, mode: .resume)) { error in
            XCTAssertTrue("\(error)".contains("no run to resume here"), "\(error)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "/notes.txt"))
        let (run, folder) = try start("again")
        _ = try run.run()
        let emptied = try prepare(folder.path, mode: .overwrite)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: emptied.path), [RunFolder.markerFile])
    }
}

/// What a run does with states it must not keep, and when it stops by itself.
final class RunStoppingTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-stopping") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func data(_ config: TrainingConfig) throws -> TrainingData {
        let texts = (0..<12).map { "record \($0): " + String(repeating: "ab", count: 1 + $0 % 4) }
        return try TrainingData.prepare(Fixture.records(texts.map { ["text": $0] }), file: "t.jsonl", config: config, tokenizer: ByteTokenizer())
    }

    func run(_ config: TrainingConfig, observer: TrainingObserver? = nil) throws -> (TrainingRun<Float>, RunFolder) {
        let folder = RunFolder(path: directory.appendingPathComponent("run").path)
        let start = try RunFolder.check(folder.path, mode: .fresh).begin(.fresh)
        let data = try data(config)
        let trainer = try LoRATrainer.prepare(model: Fixture.model(config) as Qwen2Model<Float>, data: data, config: config, padID: 0)
        try folder.writeRunFiles(config: config, data: data)
        start.commit()
        return (TrainingRun(trainer: trainer, folder: folder, metrics: try MetricsLog(path: folder.metricsFile), observer: observer), folder)
    }

    /// An update that leaves the adapter non-finite (as an absurd learning rate does) is never
    /// saved: the run stops, and the last good state it names holds finite numbers.
    func testANonFiniteAdapterIsNeverSaved() throws {
        let config = Fixture.config { c in
            c.loraR = 2; c.loraAlpha = 4; c.targetModules = ["q_proj", "v_proj"]
            c.microBatchSize = 1; c.gradientAccumulationSteps = 1; c.maxSteps = 6; c.learningRate = 1e-2
            c.loggingSteps = 1; c.evalSteps = 0; c.saveSteps = 1; c.validationCount = 2
        }
        final class Poison: Notes {
            var trainer: LoRATrainer<Float>?
            override func stepped(_ result: StepResult, totalSteps: Int) {
                if result.step == 2 { trainer?.parameters[0].value[0] = .infinity }
            }
        }
        let poison = Poison()
        let (training, folder) = try run(config, observer: poison)
        poison.trainer = training.trainer
        XCTAssertThrowsError(try training.run()) { error in
            XCTAssertTrue("\(error)".contains("no longer finite"), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("the last good state is in \(folder.checkpoint(step: 1)) (--resume continues from it)"), "\(error)")
        }
        XCTAssertEqual(folder.checkpoints.map(\.step), [1])
        let reloaded: Qwen2Model<Float> = Fixture.model(config)
        try LoRASetup.attach(to: reloaded, config: config, from: folder.checkpoint(step: 1))
        XCTAssertTrue(LoRASetup.parameters(of: reloaded).allSatisfy { $0.value.array.allSatisfy(\.isFinite) })
    }

    /// early_stopping_patience: with a learning rate too small to move the float32 loss, no
    /// evaluation improves on the first, and the run ends after `patience` of them.
    func testEarlyStoppingEndsTheRunAndSaysSoInTheMetrics() throws {
        let config = Fixture.config { c in
            c.loraR = 2; c.loraAlpha = 4; c.targetModules = ["q_proj"]
            c.microBatchSize = 1; c.gradientAccumulationSteps = 1; c.maxSteps = 8; c.learningRate = 1e-30
            c.loggingSteps = 1; c.evalSteps = 1; c.saveSteps = 0; c.validationCount = 2; c.earlyStoppingPatience = 2
        }
        let (training, folder) = try run(config)
        XCTAssertEqual(try training.run(), .finished(step: 3))
        let metrics = try MetricsLog(path: folder.metricsFile).records
        XCTAssertEqual(metrics.last?.step, 3)
        XCTAssertEqual(metrics.last?.earlyStop, true)
        XCTAssertEqual(metrics.filter { $0.earlyStop == true }.count, 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.path + "/" + PEFTAdapter.weightsFile))
        XCTAssertThrowsError(try Fixture.config { $0.earlyStoppingPatience = 2 }.validate()) { error in
            XCTAssertTrue("\(error)".contains("needs a validation split"), "\(error)")
        }
    }
}
