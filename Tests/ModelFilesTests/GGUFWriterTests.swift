import Foundation
import MedtuneCore
import TestSupport
import XCTest
@testable import ModelFiles

/// The block encoders against llama.cpp's reference quantizers, and the GGUF writer against
/// gguf-py's files and medtune's reader.
final class GGUFWriterTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-gguf-writer") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    struct QuantizerGolden: Decodable {
        struct Row: Decodable { let label: String; let float32: String }
        let rows: [Row]
        let encodings: [String: [String]]
    }

    /// Every row (real rows of the Qwen GGUF, the same rows moved off their grid as a merge moves
    /// them, outliers, zeros, tiny and huge values, ties) encodes to the reference's bytes exactly:
    /// ggml-quants.c `quantize_row_*_ref` for the block types, gguf-py for F16 and BF16.
    func testEncodersMatchReferenceQuantizersBitForBit() throws {
        let golden = try Golden.load("gguf_quantizers.json", as: QuantizerGolden.self)
        XCTAssertEqual(Set(golden.encodings.keys), Set(StorageType.supported.filter { $0 != .f32 }.map(\.name)))
        let rows = golden.rows.map { row in
            row.float32.hexBytes.withUnsafeBytes { raw in
                (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
        }
        for type in StorageType.supported {
            for (index, values) in rows.enumerated() {
                let encoded = encode(values, as: type)
                if type == .f32 {
                    XCTAssertEqual(encoded, littleEndianBytes(values))
                    continue
                }
                let expected = try XCTUnwrap(golden.encodings[type.name]?[index]).hexBytes
                XCTAssertEqual(encoded.count, expected.count, "\(type.name): \(golden.rows[index].label)")
                if let first = encoded.indices.first(where: { encoded[$0] != expected[$0] }), encoded.count == expected.count {
                    XCTFail("\(type.name): \(golden.rows[index].label): first differing byte \(first) of \(expected.count) "
                            + "(block \(first / type.blockBytes)): \(encoded[first]) instead of \(expected[first])")
                }
            }
        }
    }

    func encode(_ values: [Float], as type: StorageType) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: type.byteCount(elements: values.count)!)
        bytes.withUnsafeMutableBytes { RowCodec.quantize(type, values, into: $0.baseAddress!, count: values.count) }
        return bytes
    }

    /// The tiny Qwen2 GGUF that gguf-py's GGUFWriter wrote (scripts/golden/model_files_safetensors.py),
    /// copied entry by entry through GGUFWriter, is the same file byte for byte.
    func testCopyOfAFileGGUFPyWroteIsByteIdentical() throws {
        let path = TestPaths.golden("ModelFiles/tiny-qwen2.gguf").path
        let original = try GGUFFile(path: path)
        var writer = GGUFWriter()
        for key in original.metadataKeys { try writer.setMetadata(key, original.metadata[key]!) }
        for info in original.tensors {
            try writer.addTensor(info.name, type: info.type, shape: info.shape) { buffer in
                buffer.copyMemory(from: try original.tensor(named: info.name).bytes)
            }
        }
        let copy = directory.appendingPathComponent("copy.gguf").path
        try writer.write(to: copy)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: copy)), try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Metadata of every value type (nested arrays, an alignment of 64) and tensors of every type
    /// medtune encodes read back through GGUFFile as written: keys in order, equal values,
    /// dimensions innermost first, offsets on the alignment, and the tensor bytes.
    func testEveryValueAndTensorTypeReadsBackAsWritten() throws {
        let metadata: [(String, GGUFValue)] = [
            ("general.architecture", .string("qwen2")), ("general.alignment", .uint32(64)),
            ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60000)), ("i16", .int16(-30000)),
            ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("u64", .uint64(1 << 60)),
            ("i64", .int64(-(1 << 60))), ("f32", .float32(1e-6)), ("f64", .float64(-2.5e300)), ("bool", .bool(true)),
            ("string", .string("añb\u{0}c")), ("strings", .array([.string("a"), .string(""), .string("ü")])),
            ("nested", .array([.array([.int32(1), .int32(2)]), .array([.float32(3)])])), ("empty", .array([])),
        ]
        var writer = GGUFWriter()
        for (key, value) in metadata { try writer.setMetadata(key, value) }
        try writer.setMetadata("u8", .uint8(7))  // replaced in place, not appended
        var rng = SplitMix64(seed: 5)
        var expectedBytes: [String: [UInt8]] = [:]
        for (index, type) in StorageType.supported.enumerated() {
            let shape = index % 2 == 0 ? [3, 512] : [2, 2, 256]
            let values = (0..<shape.reduce(1, *)).map { _ in Float(rng.nextGaussian()) }
            let bytes = encode(values, as: type)
            let name = "tensor.\(type.name)"
            expectedBytes[name] = bytes
            try writer.addTensor(name, type: type, shape: shape) { $0.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: bytes.count)) }
        }
        try writer.addTensor("norm", type: .f32, shape: [5]) { $0.copyMemory(from: UnsafeRawBufferPointer(start: littleEndianBytes([1, 2, 3, 4, 5]), count: 20)) }
        expectedBytes["norm"] = littleEndianBytes([1, 2, 3, 4, 5])
        // A type medtune only reads past (Q4_1) is still written with its GGML id, so that merges can copy it.
        let q41 = try XCTUnwrap(StorageType(ggmlID: 3))
        let q41Bytes = (0..<40).map { _ in UInt8.random(in: 0...255, using: &rng) }
        try writer.addTensor("tensor.Q4_1", type: q41, shape: [64]) { $0.copyMemory(from: UnsafeRawBufferPointer(start: q41Bytes, count: 40)) }
        expectedBytes["tensor.Q4_1"] = q41Bytes
        let path = directory.appendingPathComponent("all.gguf").path
        try writer.write(to: path)

        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 64)
        XCTAssertEqual(file.metadataKeys, metadata.map(\.0))
        for (key, value) in metadata { XCTAssertEqual(file.metadata[key], key == "u8" ? .uint8(7) : value, key) }
        XCTAssertEqual(file.tensors.map(\.name), StorageType.supported.map { "tensor.\($0.name)" } + ["norm", "tensor.Q4_1"])
        XCTAssertEqual(file.info(named: "tensor.Q4_1")?.type, q41)
        XCTAssertEqual(file.info(named: "tensor.F16")?.dimensions, [256, 2, 2])
        XCTAssertEqual(file.info(named: "tensor.Q4_K")?.shape, [3, 512])
        XCTAssertEqual(file.dataOffset % 64, 0)
        for info in file.tensors {
            XCTAssertEqual(info.offset % 64, 0, info.name)
            XCTAssertEqual(Array(try file.tensor(named: info.name).bytes), expectedBytes[info.name], info.name)
        }
    }

    /// Mixed arrays, duplicate names, rows that are not whole blocks and a rejected read-back are
    /// refused, and a refused write leaves nothing in the folder.
    func testRefusedInputsAndRejectedFilesLeaveNothing() throws {
        var writer = GGUFWriter()
        XCTAssertThrowsError(try writer.setMetadata("mixed", .array([.int32(1), .string("a")])))
        try writer.addTensor("w", type: .q8_0, shape: [1, 32]) { _ in }
        XCTAssertThrowsError(try writer.addTensor("w", type: .f32, shape: [1]) { _ in })
        XCTAssertThrowsError(try writer.addTensor("odd", type: .q4_K, shape: [2, 100]) { _ in })
        let path = directory.appendingPathComponent("rejected.gguf").path
        struct Rejected: Error {}
        XCTAssertThrowsError(try writer.write(to: path) { _ in throw Rejected() })
        XCTAssertThrowsError(try GGUFWriter().write(to: path) { _ in throw Rejected() })
        var failing = GGUFWriter()
        try failing.addTensor("w", type: .f32, shape: [4]) { _ in throw Rejected() }
        XCTAssertThrowsError(try failing.write(to: path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), [])
    }
}
