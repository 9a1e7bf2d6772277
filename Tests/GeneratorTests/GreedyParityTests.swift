import Generator
import MedtuneCore
import TestSupport
import Transformer
import XCTest

/// Greedy continuations of the real Qwen2.5-Coder-0.5B-Instruct are HF transformers' (and PEFT's)
/// token for token, generated together in one left-padded batch; with the adapter loaded and
/// switched off, the answers are bit-identical to the base model loaded alone.
final class GreedyParityTests: XCTestCase {
    func testGreedyContinuationsMatchTransformers() throws {
        let golden = try QwenGolden.load()
        let path = try TestPaths.require(TestPaths.qwenGGUF).path
        let base = try Qwen2Model<Float>.load(path: path).model
        let prompts = golden.greedy_prompts.map { golden.prompts[$0] }
        var options = SamplingOptions()
        options.maxNewTokens = 32
        let plain = TokenGenerator(model: base, endOfSequence: [], padID: 151_643)
        let baseAnswers = plain.generate(prompts: prompts, options: options, useAdapter: false, topLogprobs: 1)
        XCTAssertEqual(baseAnswers.map(\.ids), golden.base.greedy)

        let tuned = try Qwen2Model<Float>.load(path: path).model
        _ = try PEFTAdapter.load(QwenGolden.adapterDirectory.path, into: tuned)
        let generator = TokenGenerator(model: tuned, endOfSequence: [], padID: 151_643)
        XCTAssertEqual(generator.generate(prompts: prompts, options: options, useAdapter: true).map(\.ids), golden.adapter.greedy)
        let switchedOff = generator.generate(prompts: prompts, options: options, useAdapter: false, topLogprobs: 1)
        XCTAssertEqual(switchedOff.map(\.ids), baseAnswers.map(\.ids))
        for (a, b) in zip(switchedOff, baseAnswers) {
            XCTAssertEqual(a.topLogprobs.map { $0.map(\.logprob) }, b.topLogprobs.map { $0.map(\.logprob) }, "bit-identical scores")
        }
    }
}
