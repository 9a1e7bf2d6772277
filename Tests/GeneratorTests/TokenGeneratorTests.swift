import Generator
import MedtuneCore
import TestSupport
import Transformer
import XCTest

/// Generation on a tiny random model: batching with left padding changes nothing, seeds
/// reproduce, and the base answer with an adapter loaded is the base model's answer.
final class TokenGeneratorTests: XCTestCase {
    let prompts: [[Int32]] = [[1, 4, 9], [2, 7, 10, 3, 5, 6], [8]]

    func testBatchedGreedyEqualsOneAtATime() {
        let model: Qwen2Model<Double> = TinyQwen.make()
        let generator = TokenGenerator(model: model, endOfSequence: [], padID: 0)
        var options = SamplingOptions()
        options.maxNewTokens = 8
        let batched = generator.generate(prompts: prompts, options: options, useAdapter: true)
        for (i, prompt) in prompts.enumerated() {
            let alone = generator.generate(prompts: [prompt], options: options, useAdapter: true)[0]
            XCTAssertEqual(batched[i].ids, alone.ids, "prompt \(i)")
            XCTAssertEqual(batched[i].ids.count, 8)
            XCTAssertEqual(batched[i].finishReason, .length)
        }
    }

    func testGreedyContinuationIsTheArgmaxOfTheFullForward() {
        let model: Qwen2Model<Double> = TinyQwen.make(seed: 5)
        var options = SamplingOptions()
        options.maxNewTokens = 5
        let generated = TokenGenerator(model: model, endOfSequence: [], padID: 0).generate(prompts: [prompts[1]], options: options, useAdapter: true)[0]
        var sequence = prompts[1]
        for id in generated.ids {
            let logits = model.logits(tokens: sequence, pass: ForwardPass(batch: 1, length: sequence.count), rows: [sequence.count - 1])
            let best = (0..<logits.count).max { logits[$0] < logits[$1] }!
            XCTAssertEqual(Int(id), best)
            sequence.append(id)
        }
    }

    func testStopsAtEndOfSequenceAndOnRequest() {
        let model: Qwen2Model<Double> = TinyQwen.make()
        var options = SamplingOptions()
        options.maxNewTokens = 8
        let free = TokenGenerator(model: model, endOfSequence: [], padID: 0).generate(prompts: [prompts[0]], options: options, useAdapter: true)[0]
        let eos = free.ids[2]
        let stopped = TokenGenerator(model: model, endOfSequence: [eos], padID: 0).generate(prompts: [prompts[0]], options: options, useAdapter: true)[0]
        XCTAssertEqual(stopped.finishReason, .endOfSequence)
        XCTAssertEqual(stopped.ids, Array(free.ids.prefix(while: { $0 != eos })))
        let early = TokenGenerator(model: model, endOfSequence: [], padID: 0)
            .generate(prompts: [prompts[0]], options: options, useAdapter: true) { _, _ in true }[0]
        XCTAssertEqual(early.ids.count, 1)
        XCTAssertEqual(early.finishReason, .stopString)
    }

    func testSeededSamplingReproducesAndBaseIgnoresAdapter() {
        var shape = TinyQwen.Shape()
        shape.targets = ["q_proj", "v_proj"]
        let adapted: Qwen2Model<Float> = TinyQwen.make(shape, seed: 9)
        shape.targets = []
        let base: Qwen2Model<Float> = TinyQwen.make(shape, seed: 9)
        var options = SamplingOptions()
        options.sample = true
        options.temperature = 1.5
        options.seed = 1234
        options.maxNewTokens = 12
        let g = TokenGenerator(model: adapted, endOfSequence: [], padID: 0)
        XCTAssertEqual(g.generate(prompts: prompts, options: options, useAdapter: true).map(\.ids),
                       g.generate(prompts: prompts, options: options, useAdapter: true).map(\.ids))
        let baseAnswers = TokenGenerator(model: base, endOfSequence: [], padID: 0).generate(prompts: prompts, options: options, useAdapter: false)
        XCTAssertEqual(g.generate(prompts: prompts, options: options, useAdapter: false).map(\.ids), baseAnswers.map(\.ids))
    }
}
