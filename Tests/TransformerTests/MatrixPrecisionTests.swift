import MedtuneCore
import TestSupport
import Transformer
import XCTest

/// A pass in `MatrixPrecision.bfloat16` multiplies the frozen weights in bfloat16 and nothing else
/// changes: the loss and the LoRA gradients stay close to float32's, and float32 passes are
/// untouched by the option.
final class MatrixPrecisionTests: XCTestCase {
    var shape: TinyQwen.Shape {
        var shape = TinyQwen.Shape()
        shape.vocabulary = 300; shape.hidden = 64; shape.heads = 4; shape.kvHeads = 2; shape.intermediate = 96
        return shape
    }
    let tokens: [Int32] = [1, 40, 299, 2, 77, 100, 3, 3, 8, 0, 5, 6, 250, 31, 17, 9]
    let labels: [Int32] = [40, 299, 2, -100, 100, 1, 3, 8, 0, 5, 6, 250, 31, 17, 9, -100]

    func run(_ precision: MatrixPrecision?) -> (loss: Double, gradients: [Float]) {
        let model: Qwen2Model<Float> = TinyQwen.make(shape, seed: 4)
        let pass = precision.map { ForwardPass(batch: 2, length: 8, matrixPrecision: $0) } ?? ForwardPass(batch: 2, length: 8)
        let result = model.lossAndGradients(tokens: tokens, labels: labels, pass: pass, gradScale: 1)
        return (result.loss, model.adapters.flatMap { $0.adapter.gradA.array + $0.adapter.gradB.array })
    }

    func testFloat32IsTheDefaultAndUnchanged() {
        let plain = run(nil), float32 = run(.float32)
        XCTAssertEqual(plain.loss.bitPattern, float32.loss.bitPattern)
        XCTAssertEqual(plain.gradients.map(\.bitPattern), float32.gradients.map(\.bitPattern))
    }

    /// Rounding every weight and activation to 8 significant bits moves each product by about
    /// 2⁻⁹ relative of its terms; through two layers and the head, the summed loss of 14 tokens
    /// (about 14 · ln 300 ≈ 80) moves by well under 1%, the gradients by a few percent at most.
    func testBFloat16StaysCloseToFloat32() throws {
        try XCTSkipUnless(MatrixPrecision.bfloat16.isSupported, "the CPU lacks AVX-512 BF16")
        let single = run(.float32), half = run(.bfloat16)
        XCTAssertNotEqual(single.loss, half.loss, "the bfloat16 pass computed in float32")
        XCTAssertEqual(half.loss, single.loss, accuracy: 1e-2 * single.loss)
        XCTAssertLessThan(GradientCheck.relativeError(half.gradients.map(Double.init), single.gradients.map(Double.init)), 5e-2)
    }
}
