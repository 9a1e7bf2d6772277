import MedtuneCore
import TestSupport
import Transformer
import XCTest

/// Decoding steps of the real Qwen2.5-Coder-0.5B (quantized weights, fused one- and few-row
/// kernels) give the logits of the full forward pass over the whole sequence.
final class RealDecodingTests: XCTestCase {
    func testCachedStepsMatchTheFullForward() throws {
        let model = try Qwen2Model<Float>.load(path: try TestPaths.require(TestPaths.qwenGGUF).path).model
        let sequences: [[Int32]] = [[9707, 11, 1879, 0, 576, 374, 279, 1156], [14990, 4337, 13, 8420, 3838, 17, 1001, 3555]]
        let prompt = 4
        for batch in [1, 2] {
            let cache = model.makeCache(batch: batch, capacity: 8)
            let prompts = (0..<batch).flatMap { sequences[$0][0..<prompt] }
            _ = model.logits(tokens: prompts, pass: ForwardPass(batch: batch, length: prompt), cache: cache, rows: [0])
            for t in prompt..<sequences[0].count {
                let tokens = (0..<batch).map { sequences[$0][t] }
                let step = model.logits(tokens: tokens, pass: ForwardPass(batch: batch, length: 1, positions: Array(repeating: t, count: batch)),
                                        cache: cache, rows: Array(0..<batch))
                for b in 0..<batch {
                    let full = model.logits(tokens: Array(sequences[b][0...t]), pass: ForwardPass(batch: 1, length: t + 1), rows: [t])
                    var worst: Float = 0
                    for c in 0..<model.vocabulary { worst = max(worst, abs(step[b * model.vocabulary + c] - full[c])) }
                    XCTAssertLessThan(worst, 1e-3, "batch \(batch), sequence \(b), position \(t)")
                }
            }
        }
    }
}
