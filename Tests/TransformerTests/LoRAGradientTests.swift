import MedtuneCore
import TestSupport
import Transformer
import XCTest

/// The whole network's backward with respect to every LoRA parameter, against finite differences
/// in float64, on a tiny random Qwen2 with adapters on all seven projections.
final class LoRAGradientTests: XCTestCase {
    let tokens: [Int32] = [1, 4, 9, 2, 7, 10,  3, 3, 8, 0, 5, 6]
    let labels: [Int32] = [4, 9, 2, -100, 10, 1,  -100, -100, 0, 5, 6, 2]

    func check(shape: TinyQwen.Shape, pass: ForwardPass, checkpointing: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        let model: Qwen2Model<Double> = TinyQwen.make(shape)
        model.gradientCheckpointing = checkpointing
        let scale = 0.37
        func loss() -> Double {
            model.lossAndGradients(tokens: tokens, labels: labels, pass: pass, gradScale: 0).loss * scale
        }
        for (_, adapter) in model.adapters { adapter.gradA.fill(0); adapter.gradB.fill(0) }
        let (_, count) = model.lossAndGradients(tokens: tokens, labels: labels, pass: pass, gradScale: scale)
        XCTAssertEqual(count, labels.filter { $0 != -100 }.count, file: file, line: line)
        XCTAssertEqual(model.adapters.count, shape.layers * shape.targets.count, file: file, line: line)
        for (name, adapter) in model.adapters {
            for (what, parameter, gradient) in [("A", adapter.a, adapter.gradA), ("B", adapter.b, adapter.gradB)] {
                let numeric = GradientCheck.numerical(parameter, step: 1e-5, loss)
                let error = GradientCheck.relativeError(gradient.array, numeric)
                XCTAssertLessThan(error, 1e-4, "\(name) \(what): relative error \(error)", file: file, line: line)
                XCTAssertGreaterThan(numeric.map(abs).max()!, 1e-8, "\(name) \(what) has no gradient", file: file, line: line)
            }
        }
    }

    func testGradientsAllProjections() {
        check(shape: TinyQwen.Shape(), pass: ForwardPass(batch: 2, length: 6))
    }

    func testGradientsWithCheckpointingAndDropout() {
        var shape = TinyQwen.Shape()
        shape.dropout = 0.3
        check(shape: shape, pass: ForwardPass(batch: 2, length: 6, dropoutSeed: 99), checkpointing: true)
    }

    func testGradientsWithLeftPaddingAndGroupedHeads() {
        var shape = TinyQwen.Shape()
        shape.hidden = 12; shape.heads = 6; shape.kvHeads = 2; shape.layers = 1
        // Sequence 0 is left-padded by two tokens: its positions restart at the first real token.
        let mask: [UInt8] = [0, 0, 1, 1, 1, 1,  1, 1, 1, 1, 1, 1]
        let positions = [0, 0, 0, 1, 2, 3,  0, 1, 2, 3, 4, 5]
        check(shape: shape, pass: ForwardPass(batch: 2, length: 6, positions: positions, keyMask: mask))
    }

    func testCheckpointingGivesTheSameGradients() {
        var shape = TinyQwen.Shape()
        shape.dropout = 0.2
        let pass = ForwardPass(batch: 2, length: 6, dropoutSeed: 5)
        let plain: Qwen2Model<Double> = TinyQwen.make(shape), replayed: Qwen2Model<Double> = TinyQwen.make(shape)
        let a = plain.lossAndGradients(tokens: tokens, labels: labels, pass: pass, gradScale: 1)
        replayed.gradientCheckpointing = true
        let b = replayed.lossAndGradients(tokens: tokens, labels: labels, pass: pass, gradScale: 1)
        XCTAssertEqual(a.loss, b.loss)
        for (x, y) in zip(plain.adapters, replayed.adapters) {
            XCTAssertEqual(x.adapter.gradA.array, y.adapter.gradA.array, x.name)
            XCTAssertEqual(x.adapter.gradB.array, y.adapter.gradB.array, x.name)
        }
    }
}
