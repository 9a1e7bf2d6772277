import Foundation
import MedtuneCore
import TestSupport
@testable import Trainer
import Tokenizers
import Transformer
import XCTest

/// One training step on the real Qwen2.5-Coder-0.5B-Instruct against HF transformers + PEFT
/// (scripts/golden/train_real.py): the tokenized micro-batch and its loss mask, the loss, the
/// gradient norm, every LoRA gradient after clipping, and the parameters after AdamW.
final class RealModelTests: XCTestCase {
    struct Golden: Decodable {
        struct Entry: Decodable { var grad_norm: Double; var grad_head: [Double]; var after_step_head: [Double] }
        var tokens: [[Int32]]
        var labels: [[Int32]]
        var eos: Int32
        var loss: Double
        var grad_norm: Double
        var tensors: [String: Entry]
    }

    func testOneStepMatchesTransformersAndPEFT() throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: TestPaths.golden("Trainer/real_step.json")))
        let path = try TestPaths.require(TestPaths.qwenGGUF).path
        var config = TrainingConfig()
        config.model = path
        config.data = TestPaths.repository.appendingPathComponent("data/medical_demo.jsonl").path
        config.limit = 2
        config.lossOn = .afterPrompt
        config.shuffle = false
        config.loraR = 4; config.loraAlpha = 8; config.loraDropout = 0
        config.targetModules = ["q_proj", "v_proj", "down_proj"]
        config.microBatchSize = 2; config.gradientAccumulationSteps = 1; config.maxSteps = 1
        config.learningRate = 1e-3; config.lrScheduler = .constant; config.weightDecay = 0; config.maxGradNorm = 1
        config.matmulPrecision = .float32

        let tokenizer = try ModelTokenizer(TokenizerLoader.load(path: path), path: path)
        XCTAssertEqual(tokenizer.eosTokenID, golden.eos)
        let data = try TrainingData.load(config.data, config: config, tokenizer: tokenizer)
        XCTAssertEqual(data.train.map(\.tokens), golden.tokens)
        XCTAssertEqual(data.train.map(\.labels), golden.labels)

        let model = try Qwen2Model<Float>.load(path: path).model
        config.initAdapter = QwenGolden.adapterDirectory.path
        let trainer = try LoRATrainer.prepare(model: model, data: data, config: config, padID: tokenizer.eosTokenID)
        let step = try trainer.step()
        XCTAssertEqual(step.loss, golden.loss, accuracy: 2e-4 * golden.loss)
        XCTAssertEqual(step.gradNorm, golden.grad_norm, accuracy: 2e-3 * golden.grad_norm)
        XCTAssertEqual(trainer.parameters.count, golden.tensors.count)
        var worstNorm = 0.0, worstUpdate = 0.0
        for p in trainer.parameters {
            let entry = try XCTUnwrap(golden.tensors[p.name], p.name)
            let norm = GradientClipping.globalNorm([p])
            worstNorm = max(worstNorm, abs(norm - entry.grad_norm) / entry.grad_norm)
            XCTAssertLessThan(GradientCheck.relativeError(p.grad.array.prefix(8).map(Double.init), entry.grad_head), 5e-3, p.name)
            // One AdamW step moves each value by about the learning rate; compare the movement.
            let moved = p.value.array.prefix(8).map(Double.init)
            for (ours, theirs) in zip(moved, entry.after_step_head) { worstUpdate = max(worstUpdate, abs(ours - theirs)) }
        }
        XCTAssertLessThan(worstNorm, 5e-3, "worst relative error of a LoRA gradient's norm")
        XCTAssertLessThan(worstUpdate, 1e-4, "worst parameter difference after the AdamW step (lr 1e-3)")
    }

    /// DeepSeek-R1-Distill's tokenizer starts every text with BOS (as HF's tokenizer(text) does
    /// for the tutorial), Qwen2.5's does not.
    func testRecordsStartWithBOSOnlyWhereTheModelsTokenizerAddsOne() throws {
        let deepSeek = try TestPaths.require(TestPaths.deepSeekR1Header).path
        XCTAssertEqual(try ModelTokenizer(TokenizerLoader.load(path: deepSeek), path: deepSeek).bosTokenID, 151_646)
        let qwen = try TestPaths.require(TestPaths.qwenGGUF).path
        XCTAssertNil(try ModelTokenizer(TokenizerLoader.load(path: qwen), path: qwen).bosTokenID)
    }
}
