import MedtuneCore
import ModelFiles
import TestSupport
import Transformer
import XCTest

/// The real Qwen2.5-Coder-0.5B-Instruct, loaded from its GGUF, against HF transformers on the same
/// weights dequantized to float32: last-position logits of five prompts (Chinese medical text,
/// ChatML, English, code), without and with a PEFT LoRA adapter.
final class Qwen2ParityTests: XCTestCase {
    static let tolerance = 1e-3

    func testLogitsMatchTransformersAndPEFT() throws {
        let golden = try QwenGolden.load()
        let (model, checkpoint) = try Qwen2Model<Float>.load(path: try TestPaths.require(TestPaths.qwenGGUF).path)
        XCTAssertEqual(checkpoint.config.layerCount, 24)
        XCTAssertEqual(model.vocabulary, 151_936)
        check(model, golden.prompts, golden.base.last_logits, useAdapter: false, "base")
        let config = try PEFTAdapter.load(QwenGolden.adapterDirectory.path, into: model)
        XCTAssertEqual(config.r, 4)
        XCTAssertEqual(model.adapters.count, 24 * 3)
        check(model, golden.prompts, golden.adapter.last_logits, useAdapter: true, "adapter")
        check(model, golden.prompts, golden.base.last_logits, useAdapter: false, "adapter switched off")
    }

    /// The other direction: an adapter written by `medtune train`, loaded by PEFT onto the HF model
    /// (scripts/golden/peft_loads_medtune_adapter.py), gives the logits medtune gives with it.
    func testPEFTLoadsAnAdapterTrainedByMedtune() throws {
        struct Golden: Decodable { var last_logits: [QwenGolden.Logits] }
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: TestPaths.golden("Transformer/medtune_adapter_logits.json")))
        let model = try Qwen2Model<Float>.load(path: try TestPaths.require(TestPaths.qwenGGUF).path).model
        let config = try PEFTAdapter.load(TestPaths.golden("Transformer/medtune-adapter").path, into: model)
        XCTAssertEqual(config.targetModules, ["q_proj"])
        XCTAssertTrue(model.adapters.contains { $0.adapter.b.array.contains { $0 != 0 } }, "the trained adapter is not the identity")
        check(model, try QwenGolden.load().prompts, golden.last_logits, useAdapter: true, "medtune-trained adapter in PEFT")
    }

    private func check(_ model: Qwen2Model<Float>, _ prompts: [[Int32]], _ expected: [QwenGolden.Logits], useAdapter: Bool, _ what: String) {
        XCTAssertEqual(prompts.count, expected.count)
        for (prompt, reference) in zip(prompts, expected) {
            let logits = model.logits(tokens: prompt, pass: ForwardPass(batch: 1, length: prompt.count, useAdapter: useAdapter),
                                      rows: [prompt.count - 1])
            var worst = 0.0
            for (id, value) in zip(reference.ids, reference.values) {
                worst = max(worst, abs(Double(logits[id]) - value))
            }
            let maximum = Double(logits.array.max()!)
            let logsumexp = maximum + Foundation.log(logits.array.reduce(0.0) { $0 + Foundation.exp(Double($1) - maximum) })
            XCTAssertLessThan(worst, Self.tolerance, "\(what): prompt of \(prompt.count) tokens, worst logit error \(worst)")
            XCTAssertEqual(logsumexp, reference.logsumexp, accuracy: Self.tolerance, what)
            XCTAssertEqual(reference.ids[0], (0..<logits.count).max { logits[$0] < logits[$1] }!, "\(what): argmax")
        }
    }
}

