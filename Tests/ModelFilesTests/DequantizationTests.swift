import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

final class DequantizationTests: XCTestCase {
    /// The first rows of one real tensor of every type in the Qwen GGUF decode exactly as
    /// gguf.quants.dequantize decodes them.
    func testRealTensorsMatchReferenceBitForBit() throws {
        let golden = try Golden.load("gguf_qwen.json", as: GGUFQwenGolden.self)
        let file = try GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path)
        XCTAssertEqual(Set(golden.rows.map(\.type)), ["F32", "Q4_K", "Q5_0", "Q6_K", "Q8_0"])
        for expected in golden.rows {
            let tensor = try file.tensor(named: expected.tensor)
            XCTAssertEqual(tensor.type.name, expected.type)
            let rowLength = tensor.shape.last!
            var decoded = [Float](repeating: .nan, count: expected.rows * rowLength)
            RowCodec.dequantize(tensor.type, tensor.bytes.baseAddress!, into: &decoded, count: decoded.count)
            XCTAssertEqual(decoded.count, expected.values.count)
            XCTAssertEqual(decoded.map(\.bitPattern), expected.values.map(\.bitPattern), expected.tensor)
        }
    }

    /// Blocks of every supported type (reference-quantized data where gguf-py can quantize, random
    /// bytes with sane scales otherwise) decode exactly as gguf-py decodes them, and the fused
    /// decode-and-dot agrees with a float64 dot over the reference values.
    func testBlocksOfEveryTypeMatchReference() throws {
        let golden = try Golden.load("gguf_blocks.json", as: BlockGolden.self)
        XCTAssertEqual(Set(golden.cases.map(\.type)), Set(StorageType.supported.map(\.name)))
        for c in golden.cases {
            let type = try XCTUnwrap(StorageType.supported.first { $0.name == c.type })
            let bytes = c.bytes.hexBytes
            XCTAssertEqual(type.byteCount(elements: c.values.count), bytes.count, c.type)
            var decoded = [Float](repeating: .nan, count: c.values.count)
            bytes.withUnsafeBytes { RowCodec.dequantize(type, $0.baseAddress!, into: &decoded, count: decoded.count) }
            XCTAssertEqual(decoded.map(\.bitPattern), c.values.map(\.bitPattern), "\(c.type) (\(c.source))")

            let x = pattern(rows: 1, cols: c.values.count, 7, 0)
            let fused = bytes.withUnsafeBytes { RowCodec.dot(type, $0.baseAddress!, x, count: x.count) }
            let expected = zip(c.values, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let scale = zip(c.values, x).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            if scale.isFinite {
                XCTAssertEqual(Double(fused), expected, accuracy: 1e-5 * scale + 1e-6, "\(c.type) dot")
            }
        }
    }

    /// Plain-type rows of lengths that are not a multiple of the vector width (safetensors
    /// weights can have any width): the fused dot covers the tail.
    func testPlainTypeDotsOfAnyLength() {
        var rng = SplitMix64(seed: 11)
        for count in [1, 7, 8, 13, 31, 100] {
            let w = (0..<count).map { _ in Float(rng.nextGaussian()) }
            let x = (0..<count).map { _ in Float(rng.nextGaussian()) }
            let encodings: [(StorageType, [UInt8])] = [
                (.f32, littleEndianBytes(w)),
                (.f16, w.flatMap { v in withUnsafeBytes(of: HalfFloat.half(from: v).littleEndian) { Array($0) } }),
                (.bf16, w.flatMap { v in withUnsafeBytes(of: HalfFloat.bfloat(from: v).littleEndian) { Array($0) } }),
            ]
            for (type, bytes) in encodings {
                var decoded = [Float](repeating: 0, count: count)
                bytes.withUnsafeBytes { RowCodec.dequantize(type, $0.baseAddress!, into: &decoded, count: count) }
                let expected = zip(decoded, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let fused = bytes.withUnsafeBytes { RowCodec.dot(type, $0.baseAddress!, x, count: count) }
                XCTAssertEqual(Double(fused), expected, accuracy: 1e-5 * Double(count), "\(type) × \(count)")
            }
        }
    }

    /// Half-precision conversion round trips every finite half, and float→half rounds to nearest
    /// even at the halfway points.
    func testHalfConversions() {
        for bits in UInt16.min...UInt16.max where bits & 0x7C00 != 0x7C00 {
            XCTAssertEqual(HalfFloat.half(from: HalfFloat.float(fromHalf: bits)), bits)
        }
        XCTAssertEqual(HalfFloat.float(fromHalf: 0x3C00), 1)
        XCTAssertEqual(HalfFloat.float(fromHalf: 0x0001), 0x1p-24)
        XCTAssertEqual(HalfFloat.float(fromHalf: 0xFC00), -.infinity)
        XCTAssertTrue(HalfFloat.float(fromHalf: 0x7E00).isNaN)
        XCTAssertEqual(HalfFloat.half(from: 1 + 0x1p-11), 0x3C00)  // halfway, rounds to even (down)
        XCTAssertEqual(HalfFloat.half(from: 1 + 3 * 0x1p-11), 0x3C02)  // halfway, rounds to even (up)
        XCTAssertEqual(HalfFloat.half(from: 65520), 0x7C00)
        XCTAssertEqual(HalfFloat.bfloat(from: 1 + 0x1p-8), 0x3F80)
        XCTAssertEqual(HalfFloat.bfloat(from: 1 + 3 * 0x1p-8), 0x3F82)
        XCTAssertEqual(HalfFloat.float(fromBFloat: 0x3F80), 1)
    }
}
