import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

final class GGUFReaderTests: XCTestCase {
    /// Every metadata key, scalar, array summary and tensor directory entry of the Qwen GGUF
    /// equals what gguf-py's GGUFReader reads.
    func testQwenHeaderMatchesReference() throws {
        let golden = try Golden.load("gguf_qwen.json", as: GGUFHeaderGolden.self)
        let file = try GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path)
        try assertHeader(file, golden)
        XCTAssertEqual(file.tensors.count, golden.tensors.count)
        for (info, expected) in zip(file.tensors, golden.tensors) {
            XCTAssertEqual(info.name, expected.name)
            XCTAssertEqual(info.type.name, expected.type)
            XCTAssertEqual(info.dimensions, expected.dimensions)
            XCTAssertEqual(info.offset, expected.offset)
            XCTAssertTrue(file.isComplete(info))
        }
        XCTAssertEqual(file.alignment, 32)
    }

    /// The partial DeepSeek-R1 file (its header and the start of its first tensor): the whole
    /// header reads, the model config maps, and loading a tensor past the end of the file is a
    /// clean error naming file and tensor.
    func testPartialFileReadsHeaderButNotMissingTensors() throws {
        let golden = try Golden.load("gguf_r1_header.json", as: GGUFHeaderGolden.self)
        let path = try TestPaths.require(TestPaths.deepSeekR1Header).path
        let file = try GGUFFile(path: path)
        try assertHeader(file, golden)
        for (info, expected) in zip(file.tensors, golden.tensors) {
            XCTAssertEqual(info.name, expected.name)
            XCTAssertEqual(info.dimensions, expected.dimensions)
            XCTAssertEqual(info.offset, expected.offset)
        }
        let first = try XCTUnwrap(file.info(named: "output.weight"))
        XCTAssertEqual(first.offset, 0)
        XCTAssertFalse(file.isComplete(first))
        XCTAssertThrowsError(try file.tensor(named: first.name)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(path) && message.contains(first.name) && message.contains("past the end"), message)
        }
        let checkpoint = try ModelCheckpoint.open(path)
        XCTAssertEqual(checkpoint.config, Qwen2Config(
            hiddenSize: 3584, layerCount: 28, headCount: 28, kvHeadCount: 4, intermediateSize: 18944,
            ropeTheta: 10_000, rmsNormEpsilon: 1e-6, vocabSize: 152_064, tieWordEmbeddings: false,
            maxPositionEmbeddings: 131_072))
        XCTAssertThrowsError(try checkpoint.linear(Qwen2TensorNames.layer(0, .qProj)))
    }

    private func assertHeader(_ file: GGUFFile, _ golden: GGUFHeaderGolden, line: UInt = #line) throws {
        XCTAssertEqual(file.tensors.count, golden.tensor_count, line: line)
        XCTAssertEqual(file.dataOffset, golden.data_offset, line: line)
        XCTAssertEqual(file.metadataKeys, golden.metadata_keys, line: line)
        for (key, expected) in golden.scalars {
            let value = try XCTUnwrap(file.metadata[key], key, line: line)
            XCTAssertEqual(value.typeName, expected.type, key, line: line)
            XCTAssertEqual(Self.scalar(value), expected.value, key, line: line)
        }
        for (key, expected) in golden.arrays {
            let elements = try XCTUnwrap(file.metadata[key]?.array, key, line: line)
            XCTAssertEqual(elements.count, expected.count, key, line: line)
            XCTAssertEqual(elements.first?.typeName, expected.type, key, line: line)
            XCTAssertEqual(elements.prefix(expected.head.count).map(Self.scalar), expected.head, key, line: line)
            XCTAssertEqual(elements.suffix(expected.tail.count).map(Self.scalar), expected.tail, key, line: line)
        }
        var types: [String: Int] = [:]
        for t in file.tensors { types[t.type.name, default: 0] += 1 }
        XCTAssertEqual(types, golden.tensor_types, line: line)
    }

    private static func scalar(_ value: GGUFValue) -> AnyScalar? {
        switch value {
        case .bool(let b): .bool(b)
        case .string(let s): .string(s)
        case .float32(let f): .double(Double(f))
        case .float64(let d): .double(d)
        default: value.int.map { .int($0) }
        }
    }

    /// Every metadata value type, including nested arrays and arrays of strings, survives a
    /// write/read round trip; a custom alignment is honoured.
    func testAllValueTypesAndAlignment() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: [(String, GGUFValue)] = [
            ("a.u8", .uint8(200)), ("a.i8", .int8(-100)), ("a.u16", .uint16(60000)), ("a.i16", .int16(-30000)),
            ("a.u32", .uint32(4_000_000_000)), ("a.i32", .int32(-2_000_000_000)), ("a.u64", .uint64(1 << 60)),
            ("a.i64", .int64(-(1 << 60))), ("a.f32", .float32(1.5e-6)), ("a.f64", .float64(-2.25e300)),
            ("a.bool", .bool(true)), ("a.str", .string("héllo\n\"x\"")),
            ("a.strs", .array([.string("Ġthe"), .string(""), .string("日本")])),
            ("a.nested", .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])])),
            ("general.alignment", .uint32(64)),
        ]
        var builder = GGUFBuilder(version: 2, alignment: 64, metadata: values)
        builder.add("t.a", type: .f32, dimensions: [3], data: littleEndianBytes([1, 2, 3]))
        builder.add("t.b", type: .f32, dimensions: [2, 2], data: littleEndianBytes([4, 5, 6, 7]))
        let file = try GGUFFile(path: builder.write(to: dir))
        XCTAssertEqual(file.version, 2)
        XCTAssertEqual(file.alignment, 64)
        XCTAssertEqual(file.dataOffset % 64, 0)
        for (key, value) in values { XCTAssertEqual(file.metadata[key], value, key) }
        XCTAssertEqual(file.metadata["a.strs"]?.strings, ["Ġthe", "", "日本"])
        XCTAssertEqual(try file.tensor(named: "t.b").shape, [2, 2])
        XCTAssertEqual(try file.tensor(named: "t.b").floats(), [4, 5, 6, 7])
        XCTAssertEqual(file.info(named: "t.b")?.offset, 64)
    }
}
