import MedtuneCore
import TestSupport
@testable import Trainer
import Transformer
import XCTest

/// `matmul_precision`: what auto means on this machine, the error for an unsupported or unknown
/// choice, and a trainer that computes in the precision it was given.
final class MatmulPrecisionTests: XCTestCase {
    func testAutoIsTheFastestSupportedPrecision() throws {
        XCTAssertEqual(TrainingConfig().matmulPrecision, .auto)
        XCTAssertEqual(try TrainingConfig.MatmulPrecision.auto.resolved(), MatrixPrecision.bfloat16.isSupported ? .bfloat16 : .float32)
        XCTAssertEqual(try TrainingConfig.MatmulPrecision.float32.resolved(), .float32)
        if MatrixPrecision.bfloat16.isSupported {
            XCTAssertEqual(try TrainingConfig.MatmulPrecision.bfloat16.resolved(), .bfloat16)
        } else {
            XCTAssertThrowsError(try TrainingConfig.MatmulPrecision.bfloat16.resolved()) { error in
                XCTAssertEqual("\(error)", "key matmul_precision: bfloat16 needs a CPU with AVX-512 BF16 (avx512_bf16), which this one lacks; use auto or float32")
            }
        }
    }

    /// The job resolves auto once; the run, its config.yaml and the trainer take that value.
    func testTheJobResolvesAutoOnce() throws {
        let job = try TrainingJob(config: Fixture.config { $0.matmulPrecision = .auto }, mode: .fresh)
        XCTAssertEqual(job.config.matmulPrecision, .init(try TrainingConfig.MatmulPrecision.auto.resolved()))
        XCTAssertNotEqual(job.config.matmulPrecision, .auto)
        XCTAssertNil(TrainingConfig.MatmulPrecision.auto.precision)
        XCTAssertEqual(TrainingConfig.MatmulPrecision.float32.precision, .float32)
    }

    func testFlagAndRecipeValues() throws {
        let base = "model: m.gguf\ndata: d.jsonl\n"
        XCTAssertEqual(try TrainingConfig.resolve(yaml: base + "matmul_precision: float32\n").matmulPrecision, .float32)
        let flagged = try TrainingConfig.resolve(yaml: base, overrides: [ConfigOverride(key: "matmul-precision", value: "bfloat16")])
        XCTAssertEqual(flagged.matmulPrecision, .bfloat16)
        XCTAssertTrue(try flagged.yaml().contains("matmul_precision: bfloat16\n"))
        XCTAssertThrowsError(try TrainingConfig.resolve(yaml: base + "matmul_precision: half\n", source: "c.yaml")) { error in
            XCTAssertEqual("\(error)", "c.yaml: key matmul_precision: invalid value (expected one of auto, float32, bfloat16)")
        }
    }

    /// The same first step in float32 and in bfloat16: the trainer hands its precision to every
    /// pass (the losses differ), and bfloat16's loss stays within 1% of float32's (reasoned in
    /// TransformerTests.MatrixPrecisionTests).
    func testTrainerComputesInTheConfiguredPrecision() throws {
        try XCTSkipUnless(MatrixPrecision.bfloat16.isSupported, "the CPU lacks AVX-512 BF16")
        func firstStep(_ precision: TrainingConfig.MatmulPrecision) throws -> (MatrixPrecision, StepResult) {
            let config = Fixture.config { c in
                c.matmulPrecision = precision
                c.microBatchSize = 2; c.gradientAccumulationSteps = 1; c.shuffle = false; c.loraDropout = 0
                c.targetModules = TrainingConfig.projectionNames
            }
            let model: Qwen2Model<Float> = Fixture.model(config)
            let texts = ["a record long enough to train on", "and a second one beside it"]
            let data = try TrainingData.prepare(Fixture.records(texts.map { ["text": $0] }), file: "t.jsonl", config: config, tokenizer: ByteTokenizer())
            let trainer = try LoRATrainer(model: model, data: data, config: config, padID: 0)
            return (trainer.matrixPrecision, try trainer.step())
        }
        let (singlePrecision, single) = try firstStep(.float32)
        let (halfPrecision, half) = try firstStep(.bfloat16)
        XCTAssertEqual(singlePrecision, .float32)
        XCTAssertEqual(halfPrecision, .bfloat16)
        XCTAssertNotEqual(single.loss, half.loss)
        XCTAssertEqual(half.loss, single.loss, accuracy: 1e-2 * single.loss)
        XCTAssertEqual(half.gradNorm, single.gradNorm, accuracy: 5e-2 * single.gradNorm)
    }
}
