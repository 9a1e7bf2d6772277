import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

final class SafetensorsTests: XCTestCase {
    private static let torchTypes: [String: StorageType] = ["float32": .f32, "float16": .f16, "bfloat16": .bf16]

    /// From the same float32 values, medtune writes the very bytes the reference package wrote
    /// (header order, escaping, padding, f16/bf16 rounding).
    func testWriterMatchesReferenceBytes() throws {
        let golden = try Golden.load("safetensors.json", as: SafetensorsGolden.self).writer
        var writer = SafetensorsWriter(metadata: golden.metadata)
        for t in golden.tensors {
            try writer.add(t.name, type: XCTUnwrap(Self.torchTypes[t.dtype]), shape: t.shape, values: t.values)
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.safetensors").path
        try writer.write(to: path)
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let expected = golden.file_hex.hexBytes
        XCTAssertEqual(written.count, expected.count)
        let header = Int(expected[0]) + 8
        XCTAssertEqual(String(decoding: written.prefix(header), as: UTF8.self), String(decoding: expected.prefix(header), as: UTF8.self))
        XCTAssertEqual(written, expected)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.safetensors"])
    }

    /// A file the reference package wrote reads back to the reference's decoded values.
    func testReadsReferenceFile() throws {
        let golden = try Golden.load("safetensors.json", as: SafetensorsGolden.self).writer
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("reference.safetensors")
        try Data(golden.file_hex.hexBytes).write(to: url)
        let file = try SafetensorsFile(path: url.path)
        XCTAssertEqual(file.metadata, golden.metadata)
        XCTAssertEqual(Set(file.tensorEntries.map(\.name)), Set(golden.tensors.map(\.name)))
        for t in golden.tensors {
            let tensor = try file.tensor(named: t.name)
            XCTAssertEqual(tensor.type, Self.torchTypes[t.dtype], t.name)
            XCTAssertEqual(tensor.shape, t.shape, t.name)
            XCTAssertEqual(try tensor.floats().map(\.bitPattern), t.decoded_bits, t.name)
        }
    }

    /// The real MiniLM checkpoint: directory, dtypes and values as the reference reads them; its
    /// int64 tensor is listed but refused as a float tensor, naming file and tensor.
    func testReadsMiniLM() throws {
        let golden = try Golden.load("safetensors.json", as: SafetensorsGolden.self).minilm
        let path = try TestPaths.require(TestPaths.miniLM).appendingPathComponent("model.safetensors").path
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.tensorEntries.count, golden.tensor_count)
        var dtypes: [String: Int] = [:]
        for e in file.tensorEntries { dtypes[e.type == .f32 ? "float32" : e.type.name == "I64" ? "int64" : e.type.name, default: 0] += 1 }
        XCTAssertEqual(dtypes, golden.dtypes)
        for sample in golden.samples {
            let tensor = try file.tensor(named: sample.name)
            XCTAssertEqual(tensor.shape, sample.shape)
            XCTAssertEqual(Array(try tensor.floats().prefix(sample.first.count)), sample.first)
        }
        XCTAssertThrowsError(try file.tensor(named: "embeddings.position_ids").floats()) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path): tensor embeddings.position_ids: stored as I64"), "\(error)")
        }
    }

    /// Write then read: every supported output type, a Double tensor, and metadata.
    func testRoundTrip() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SplitMix64(seed: 3)
        let values = (0..<48).map { _ in Float(rng.nextGaussian()) }
        var writer = SafetensorsWriter(metadata: ["rank": "8", "alpha": "16"])
        try writer.add("a", type: .f32, shape: [6, 8], values: values)
        try writer.add("b", type: .f16, shape: [48], values: values)
        try writer.add("c", type: .bf16, shape: [2, 24], values: values)
        try writer.add("d", tensor: Tensor<Double>([2, 3], [1, 2, 3, 4, 5, 6]))
        XCTAssertThrowsError(try writer.add("a", shape: [1], values: [0]))
        XCTAssertThrowsError(try writer.add("q", type: .q8_0, shape: [32], values: values))
        let path = dir.appendingPathComponent("rt.safetensors").path
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.metadata, ["rank": "8", "alpha": "16"])
        XCTAssertEqual(try file.tensor(named: "a").floats(), values)
        XCTAssertEqual(try file.tensor(named: "b").floats(), values.map { HalfFloat.float(fromHalf: HalfFloat.half(from: $0)) })
        XCTAssertEqual(try file.tensor(named: "c").floats(), values.map { HalfFloat.float(fromBFloat: HalfFloat.bfloat(from: $0)) })
        XCTAssertEqual(try file.tensor(named: "d").tensor(Double.self).array, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(file.dataOffset % 8, 0)
    }

    /// The tiny Qwen2 model saved by transformers (two bf16 shards + index) and the same weights
    /// written as GGUF by gguf-py (F32, F16, BF16, Q8_0, Q4_0, Q5_0) load through one code path
    /// into equal configs and the same canonical tensors.
    func testTinyQwen2InBothFormats() throws {
        let golden = try Golden.load("safetensors.json", as: SafetensorsGolden.self).tiny_qwen2
        let hf = try ModelCheckpoint.open(TestPaths.golden("ModelFiles/tiny-qwen2").path)
        let gguf = try ModelCheckpoint.open(TestPaths.golden("ModelFiles/tiny-qwen2.gguf").path)
        XCTAssertEqual(hf.format, .safetensors)
        XCTAssertEqual((hf.source as? SafetensorsFolder)?.shards.count, 2)
        XCTAssertEqual(hf.config, Qwen2Config(hiddenSize: 64, layerCount: 2, headCount: 4, kvHeadCount: 2,
                                              intermediateSize: 128, ropeTheta: 1e6, rmsNormEpsilon: 1e-6,
                                              vocabSize: 96, tieWordEmbeddings: false, maxPositionEmbeddings: 256))
        XCTAssertEqual(gguf.config, hf.config)
        XCTAssertEqual(Set(hf.tensorNames), Set(golden.hf.keys))
        XCTAssertEqual(Set(gguf.tensorNames), Set(golden.hf.keys))
        for (name, expected) in golden.hf {
            let values = try hf.floats(name)
            XCTAssertEqual(hf.entry(name)?.shape, expected.shape, name)
            XCTAssertEqual(gguf.entry(name)?.shape, expected.shape, name)
            XCTAssertEqual(Array(values.prefix(4)), expected.first, name)
            XCTAssertEqual(values.reduce(0.0) { $0 + Double($1) }, expected.sum, accuracy: 1e-9 * Double(values.count), name)
        }
        for (name, expected) in golden.gguf {
            let tensor = try gguf.tensor(name)
            XCTAssertEqual(tensor.name, expected.gguf)
            XCTAssertEqual(tensor.type.name, expected.type, name)
            let values = try tensor.floats()
            XCTAssertEqual(Array(values.prefix(4)), expected.first, name)
            XCTAssertEqual(values.reduce(0.0) { $0 + Double($1) }, expected.sum, accuracy: 1e-6 * Double(values.count), name)
        }
        // The same layer through both: products agree to the GGUF type's precision (Q8_0 here).
        let a = try hf.linear(Qwen2TensorNames.layer(1, .qProj)), b = try gguf.linear(Qwen2TensorNames.layer(1, .qProj))
        let x = pattern(rows: 2, cols: 64, 3, 1)
        var ya = [Float](repeating: 0, count: 128), yb = ya
        a.product(x, rows: 2, into: &ya)
        b.product(x, rows: 2, into: &yb)
        let scale = ya.map(abs).max() ?? 1
        XCTAssertLessThan(zip(ya, yb).map { abs($0 - $1) }.max() ?? 1, 0.02 * scale)
    }

    func testMissingShardNamesFileAndTensor() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("tiny")
        try FileManager.default.copyItem(at: TestPaths.golden("ModelFiles/tiny-qwen2"), to: copy)
        let shard = copy.appendingPathComponent("model-00002-of-00002.safetensors")
        try FileManager.default.removeItem(at: shard)
        XCTAssertThrowsError(try ModelCheckpoint.open(copy.path)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("\(shard.path): tensor "), message)
            XCTAssertTrue(message.contains("missing shard"), message)
        }
    }
}
