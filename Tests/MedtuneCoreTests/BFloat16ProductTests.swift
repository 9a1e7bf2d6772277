import Foundation
import MedtuneCore
import TestSupport
import XCTest

/// Matrix products in `MatrixPrecision.bfloat16`: the rounding of entries against PyTorch, and
/// the products against float64 sums of the same rounded entries, where only the order of the
/// float32 additions can differ.
final class BFloat16ProductTests: XCTestCase {
    /// float32 bits → PyTorch's bfloat16 bits (scripts/golden/bf16_rounding.py).
    func goldenRoundings() throws -> [(float: Float, bits: UInt16)] {
        struct Golden: Decodable { var cases: [[UInt32]] }
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: TestPaths.golden("MedtuneCore/bf16_rounding.json")))
        return golden.cases.map { (Float(bitPattern: $0[0]), UInt16($0[1])) }
    }

    func requireBFloat16() throws {
        try XCTSkipUnless(MatrixPrecision.bfloat16.isSupported, "the CPU lacks AVX-512 BF16")
    }

    /// Ties to even both ways, overflow to infinity, signed zeros, infinities, NaNs, subnormals,
    /// and random bit patterns: the same bits as PyTorch's conversion of a tensor.
    func testRoundingMatchesPyTorch() throws {
        let cases = try goldenRoundings()
        XCTAssertGreaterThan(cases.count, 400)
        for (x, bits) in cases {
            XCTAssertEqual(BFloat16.bits(x), bits, "float bits \(String(x.bitPattern, radix: 16))")
        }
        XCTAssertTrue(BFloat16.rounded(.nan).isNaN)
        XCTAssertEqual(BFloat16.rounded(-.infinity), -.infinity)
        XCTAssertEqual(BFloat16.rounded(1 + 1.0 / 256), 1, "a tie goes to the even neighbour")
        XCTAssertEqual(BFloat16.rounded(1 + 3.0 / 256), 1 + 4.0 / 256, "a tie goes to the even neighbour")
    }

    /// The kernel rounds while packing, with vector code of its own: a product by 1 with k = 1
    /// returns each rounded entry of B (normal numbers, infinities and NaNs; subnormal entries
    /// count as zero in `vdpbf16ps`), in every layout of B.
    func testPackingRoundsAsPyTorch() throws {
        try requireBFloat16()
        let cases = try goldenRoundings().filter { !$0.float.isSubnormal && !(Float(bitPattern: UInt32($0.bits) << 16).isSubnormal) }
        let n = cases.count
        let b = cases.map(\.float)
        var one: Float = 1
        for transB in [false, true] {
            var c = [Float](repeating: 0, count: n)
            Matmul.gemm(transB: transB, m: 1, n: n, k: 1, a: &one, b: b, c: &c, precision: .bfloat16)
            for (j, (x, bits)) in cases.enumerated() {
                let expected = Float(bitPattern: UInt32(bits) << 16)
                if expected.isNaN {
                    XCTAssertTrue(c[j].isNaN, "float bits \(String(x.bitPattern, radix: 16))")
                } else {
                    XCTAssertEqual(c[j], expected, "float bits \(String(x.bitPattern, radix: 16)), transB \(transB)")
                }
            }
        }
    }

    struct Shape {
        var m, n, k: Int
        var pad = (a: 0, b: 0, c: 0)
        var alpha: Float = 1, beta: Float = 0
    }

    /// Sizes off the kernel's 14 × 32 tiles and its k pairs (odd k, one row, one column), strides
    /// wider than the rows, accumulation into C, and products large enough to be split over the
    /// cores by rows and by columns.
    let shapes = [
        Shape(m: 1, n: 1, k: 1),
        Shape(m: 1, n: 45, k: 17, beta: 1),
        Shape(m: 29, n: 1, k: 300),
        Shape(m: 37, n: 45, k: 67, pad: (3, 5, 2)),
        Shape(m: 15, n: 33, k: 2, alpha: 0.5, beta: 1),
        Shape(m: 100, n: 70, k: 1025, pad: (1, 0, 7), beta: 1),
        Shape(m: 150, n: 141, k: 101, pad: (0, 2, 0), alpha: -2),
        Shape(m: 301, n: 41, k: 200, pad: (0, 0, 5), beta: 1),
    ]

    func testProductsEqualFloat64SumsOfTheRoundedEntries() throws {
        try requireBFloat16()
        var rng = SplitMix64(seed: 11)
        for s in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    // Stored shapes: A is m×k (k×m transposed), B is k×n (n×k transposed).
                    let aRows = transA ? s.k : s.m, aCols = transA ? s.m : s.k, lda = aCols + s.pad.a
                    let bRows = transB ? s.n : s.k, bCols = transB ? s.k : s.n, ldb = bCols + s.pad.b
                    let ldc = s.n + s.pad.c
                    let a = (0..<aRows * lda).map { _ in rng.nextFloat() * 2 - 1 }
                    let b = (0..<bRows * ldb).map { _ in rng.nextFloat() * 2 - 1 }
                    let c0 = (0..<s.m * ldc).map { _ in rng.nextFloat() * 2 - 1 }
                    var c = c0
                    Matmul.gemm(transA: transA, transB: transB, m: s.m, n: s.n, k: s.k, alpha: s.alpha, a: a, lda: lda,
                                b: b, ldb: ldb, beta: s.beta, c: &c, ldc: ldc, precision: .bfloat16)
                    var worst = 0.0
                    for i in 0..<s.m {
                        for j in 0..<s.n {
                            var sum = 0.0, magnitude = 0.0
                            for p in 0..<s.k {
                                let x = Double(BFloat16.rounded(transA ? a[p * lda + i] : a[i * lda + p]))
                                    * Double(BFloat16.rounded(transB ? b[j * ldb + p] : b[p * ldb + j]))
                                sum += x
                                magnitude += abs(x)
                            }
                            let old = Double(c0[i * ldc + j]) * Double(s.beta)
                            let expected = Double(s.alpha) * sum + old
                            // float32 sums of k terms: a few units in the last place of the sum of magnitudes.
                            let scale = abs(Double(s.alpha)) * magnitude + abs(old)
                            worst = max(worst, abs(Double(c[i * ldc + j]) - expected) / scale)
                        }
                        for j in s.n..<ldc {
                            XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], "padding of C row \(i) was written")
                        }
                    }
                    XCTAssertLessThan(worst, 1e-5, "\(s.m)×\(s.n)×\(s.k) transA \(transA) transB \(transB)")
                }
            }
        }
    }

    /// bfloat16 keeps 8 significant bits: against float32, a product of random matrices moves by
    /// about 2⁻⁹ of its terms' size, which float32 itself never does.
    func testBFloat16IsNotFloat32() throws {
        try requireBFloat16()
        var rng = SplitMix64(seed: 5)
        let m = 20, n = 30, k = 64
        let a = (0..<m * k).map { _ in rng.nextFloat() * 2 - 1 }, b = (0..<k * n).map { _ in rng.nextFloat() * 2 - 1 }
        var single = [Float](repeating: 0, count: m * n), half = single
        Matmul.gemm(m: m, n: n, k: k, a: a, b: b, c: &single)
        Matmul.gemm(m: m, n: n, k: k, a: a, b: b, c: &half, precision: .bfloat16)
        let difference = zip(single, half).map { Double(abs($0 - $1)) }.max()!
        XCTAssertGreaterThan(difference, 1e-4)
        XCTAssertLessThan(difference, 0.1)
    }
}
