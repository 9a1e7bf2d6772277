import Foundation
import MedtuneCore
import TestSupport
@testable import Trainer
import Transformer
import XCTest

final class TrainingTests: XCTestCase {
    func data(_ texts: [String], validation: Int = 0, config: TrainingConfig) throws -> TrainingData {
        var config = config
        config.validationCount = validation
        return try TrainingData.prepare(Fixture.records(texts.map { ["text": $0] }), file: "t.jsonl", config: config, tokenizer: ByteTokenizer())
    }

    /// Two records in one micro-batch of 2, or in 2 accumulated micro-batches of 1: the same
    /// gradient (weighted by tokens, not by micro-batch), so the same step. SGD keeps the update
    /// linear in the gradient, so a wrong weighting could not hide behind Adam's normalisation.
    func testAccumulatingTwoMicroBatchesEqualsOneBatchOfTwo() throws {
        func run(micro: Int, accumulation: Int) throws -> (loss: Double, values: [Double]) {
            let config = Fixture.config { c in
                c.microBatchSize = micro; c.gradientAccumulationSteps = accumulation
                c.shuffle = false; c.loraDropout = 0; c.optimizer = .sgd; c.learningRate = 0.5; c.maxGradNorm = 0
                c.targetModules = ["q_proj", "v_proj", "down_proj"]
                c.maxSteps = 2
            }
            let model: Qwen2Model<Double> = Fixture.model(config)
            let trainer = try LoRATrainer(model: model, data: try data(["a short one", "a somewhat longer record here"], config: config),
                                          config: config, padID: 0)
            let first = try trainer.step()
            _ = try trainer.step()
            return (first.loss, trainer.parameters.flatMap { $0.value.array })
        }
        let big = try run(micro: 2, accumulation: 1)
        let accumulated = try run(micro: 1, accumulation: 2)
        XCTAssertEqual(big.loss, accumulated.loss, accuracy: 1e-12)
        XCTAssertLessThan(GradientCheck.relativeError(big.values, accumulated.values), 1e-12)
        let untouched = try run(micro: 2, accumulation: 1)
        XCTAssertEqual(untouched.values, big.values, "training is deterministic")
    }

    /// The step loss is the token-weighted mean over the step's records, as one forward pass
    /// over each record alone gives it.
    func testStepLossIsTheMeanOverTrainedTokens() throws {
        let config = Fixture.config { c in c.microBatchSize = 1; c.gradientAccumulationSteps = 3; c.shuffle = false; c.loraDropout = 0 }
        let model: Qwen2Model<Double> = Fixture.model(config)
        let examples = try data(["one", "a second record", "3"], config: config)
        var sum = 0.0, count = 0
        for e in examples.train {
            let r = model.loss(tokens: e.tokens, labels: e.labels, pass: ForwardPass(batch: 1, length: e.tokens.count))
            sum += r.loss; count += r.count
        }
        let trainer = try LoRATrainer(model: model, data: examples, config: config, padID: 0)
        XCTAssertEqual(try trainer.step().loss, sum / Double(count), accuracy: 1e-12)
    }

    /// A few dozen steps on a tiny repetitive dataset bring the loss well down.
    func testTrainingLowersTheLossOnRepetitiveData() throws {
        let config = Fixture.config { c in
            c.loraR = 4; c.loraAlpha = 8; c.loraDropout = 0.05
            c.targetModules = TrainingConfig.projectionNames
            c.learningRate = 2e-2; c.microBatchSize = 2; c.gradientAccumulationSteps = 2
            c.maxSteps = 40; c.lrScheduler = .constant
        }
        let texts = (0..<12).map { i in String(repeating: ["abc ", "abd ", "abe "][i % 3], count: 6) }
        let model: Qwen2Model<Float> = Fixture.model(config)
        let trainer = try LoRATrainer(model: model, data: try data(texts, validation: 3, config: config), config: config, padID: 0)
        let before = try XCTUnwrap(trainer.validationLoss())
        var losses: [Double] = []
        while !trainer.isFinished { losses.append(try trainer.step().loss) }
        let after = try XCTUnwrap(trainer.validationLoss())
        XCTAssertLessThan(after, 0.5 * before, "validation loss \(before) → \(after)")
        XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, 0.5 * losses[0], "training losses \(losses)")
    }

    func testNonFiniteLossStopsWithoutApplyingTheStep() throws {
        let config = Fixture.config { c in c.microBatchSize = 1; c.gradientAccumulationSteps = 1 }
        let model: Qwen2Model<Float> = Fixture.model(config)
        let trainer = try LoRATrainer(model: model, data: try data(["abc", "def"], config: config), config: config, padID: 0)
        _ = try trainer.step()
        let b = model.adapters[0].adapter.b
        b[0] = .nan
        let before = trainer.parameters.map { $0.value.array }
        XCTAssertThrowsError(try trainer.step()) { error in
            // The NaN reaches the gradient whether or not it reaches the loss.
            XCTAssertTrue(error is NonFiniteError)
            XCTAssertTrue("\(error)".hasPrefix("step 2: the "), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix(" is nan; training stopped before applying it"), "\(error)")
        }
        XCTAssertEqual(trainer.progress.step, 1)
        let after = trainer.parameters.map { $0.value.array }
        XCTAssertEqual(before.flatMap { $0 }.map(\.bitPattern), after.flatMap { $0 }.map(\.bitPattern))
    }

    func testPEFTInitialisationStartsFromTheBaseModel() throws {
        let config = Fixture.config { c in c.targetModules = ["q_proj", "gate_proj"]; c.loraR = 3 }
        let model: Qwen2Model<Float> = Fixture.model(config)
        XCTAssertEqual(model.adapters.map(\.name), ["model.layers.0.self_attn.q_proj", "model.layers.0.mlp.gate_proj",
                                                   "model.layers.1.self_attn.q_proj", "model.layers.1.mlp.gate_proj"])
        for (_, adapter) in model.adapters {
            XCTAssertEqual(adapter.rank, 3)
            XCTAssertTrue(adapter.b.array.allSatisfy { $0 == 0 })
            let bound = 1 / Float(adapter.inFeatures).squareRoot()
            XCTAssertTrue(adapter.a.array.allSatisfy { abs($0) <= bound })
            XCTAssertTrue(adapter.a.array.contains { $0 != 0 })
        }
        XCTAssertEqual(LoRASetup.parameters(of: model).first?.name, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")
    }
}
