import Foundation
import Generator
import Tokenizers
import MedtuneCore
import ModelFiles
import TestSupport
import Transformer
import XCTest
@testable import Exporter

/// `medtune merge --format gguf`: untouched tensors are the base's bytes, the merged model is the
/// base with its adapter on up to the error of re-encoding the folded weights (measured against the
/// base's own quantization error), the base is left as it was, and refusals leave nothing behind.
/// `medtune export-lora` (which shares the tiny GGUF base): the adapter as llama.cpp's converter
/// writes it and its loader reads it.
final class MergeGGUFTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-merge-gguf") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// Tensor types of the tiny base, by GGUF name inside `blk.N.` (layer 1 differs where noted):
    /// every type medtune encodes, with K-quants on rows of 256 (hidden) and 512 (intermediate).
    static func baseType(_ name: String, layer: Int) -> StorageType {
        switch name {
        case "attn_q.weight": layer == 0 ? .q4_K : .bf16
        case "attn_k.weight": .q5_0
        case "attn_v.weight": .q8_0
        case "attn_output.weight": layer == 0 ? .q6_K : .q5_K
        case "ffn_gate.weight": .f16
        case "ffn_up.weight": .q4_0  // the adapter leaves it alone
        case "ffn_down.weight": layer == 0 ? .q4_K : .q6_K
        default: .f32  // norms and biases
        }
    }

    /// A random Qwen2 model (hidden 256, 4 heads of 64, 2 KV heads, intermediate 512, 2 layers,
    /// vocabulary 96) written as a GGUF in the types above (embedding Q5_0, output Q8_0), and the
    /// same float weights as an all-F32 GGUF: the model before quantization, whose logits measure
    /// the base's own quantization error.
    func writeBases() throws -> (quantized: String, float: String) {
        let hidden = 256, intermediate = 512, kv = 128, vocabulary = 96
        var rng = SplitMix64(seed: 17)
        func gaussian(_ count: Int, _ scale: Float, mean: Float = 0) -> [Float] { (0..<count).map { _ in mean + scale * Float(rng.nextGaussian()) } }
        var tensors: [(name: String, shape: [Int], type: StorageType, values: [Float])] = [
            ("token_embd.weight", [vocabulary, hidden], .q5_0, gaussian(vocabulary * hidden, 1)),
            ("output_norm.weight", [hidden], .f32, gaussian(hidden, 0.1, mean: 1)),
            ("output.weight", [vocabulary, hidden], .q8_0, gaussian(vocabulary * hidden, 0.0625)),
        ]
        for layer in 0..<2 {
            for (name, shape) in [("attn_norm.weight", [hidden]), ("ffn_norm.weight", [hidden]),
                                  ("attn_q.weight", [hidden, hidden]), ("attn_q.bias", [hidden]),
                                  ("attn_k.weight", [kv, hidden]), ("attn_k.bias", [kv]),
                                  ("attn_v.weight", [kv, hidden]), ("attn_v.bias", [kv]),
                                  ("attn_output.weight", [hidden, hidden]), ("ffn_gate.weight", [intermediate, hidden]),
                                  ("ffn_up.weight", [intermediate, hidden]), ("ffn_down.weight", [hidden, intermediate])] {
                let values = name.hasSuffix("norm.weight") ? gaussian(hidden, 0.1, mean: 1)
                    : shape.count == 1 ? gaussian(shape[0], 0.1) : gaussian(shape[0] * shape[1], 1 / Float(shape[1]).squareRoot())
                tensors.append(("blk.\(layer).\(name)", shape, Self.baseType(name, layer: layer), values))
            }
        }
        func write(_ path: String, float: Bool) throws {
            var writer = GGUFWriter()
            let metadata: [(String, GGUFValue)] = [
                ("general.architecture", .string("qwen2")), ("general.name", .string("tiny")),
                ("qwen2.block_count", .uint32(2)), ("qwen2.context_length", .uint32(256)),
                ("qwen2.embedding_length", .uint32(UInt32(hidden))), ("qwen2.feed_forward_length", .uint32(UInt32(intermediate))),
                ("qwen2.attention.head_count", .uint32(4)), ("qwen2.attention.head_count_kv", .uint32(2)),
                ("qwen2.rope.freq_base", .float32(10_000)), ("qwen2.attention.layer_norm_rms_epsilon", .float32(1e-6)),
                ("general.file_type", .uint32(float ? 0 : 15)), ("general.quantization_version", .uint32(2)),
            ]
            for (key, value) in metadata { try writer.setMetadata(key, value) }
            for t in tensors {
                let type = float ? .f32 : t.type
                try writer.addTensor(t.name, type: type, shape: t.shape) { buffer in
                    let rowLength = t.shape.last!, rowBytes = type.byteCount(elements: rowLength)!
                    for r in 0..<(t.values.count / rowLength) {
                        t.values.withUnsafeBufferPointer {
                            RowCodec.quantize(type, $0.baseAddress! + r * rowLength, into: buffer.baseAddress! + r * rowBytes, count: rowLength)
                        }
                    }
                }
            }
            try writer.write(to: path)
        }
        let quantized = directory.appendingPathComponent("base.gguf").path, float = directory.appendingPathComponent("float.gguf").path
        try write(quantized, float: false)
        try write(float, float: true)
        return (quantized, float)
    }

    /// A PEFT adapter (rank 8, alpha 16) on q, k, v, o, gate and down of `base`, large enough to
    /// move the logits far beyond quantization error.
    func writeAdapter(for base: String, name: String = "adapter") throws -> String {
        let model = try Qwen2Model<Float>.load(path: base).model
        var rng = SplitMix64(seed: 29)
        func gaussian(_ dims: [Int], _ scale: Float) -> Tensor<Float> { Tensor(dims, (0..<dims.reduce(1, *)).map { _ in scale * Float(rng.nextGaussian()) }) }
        model.attach(model.sites.filter { $0.projection != .up }.map { site in
            let (inFeatures, outFeatures) = model.features(site)
            return (site, LoRAAdapter(a: gaussian([8, inFeatures], 1 / Float(inFeatures).squareRoot()), b: gaussian([outFeatures, 8], 0.1), alpha: 16))
        })
        let path = directory.appendingPathComponent(name).path
        try PEFTAdapter.save(model, baseModelNameOrPath: base, to: path)
        return path
    }

    static let prompts: [[Int32]] = [[1, 5, 9, 13, 17], [40, 2, 77, 3, 60, 8, 11], [90, 91, 92, 93, 30, 31, 32, 33, 34]]

    /// Logits at every position of every prompt, concatenated.
    func logits(_ model: Qwen2Model<Float>, useAdapter: Bool) -> [Float] {
        Self.prompts.flatMap { tokens in
            model.logits(tokens: tokens, pass: ForwardPass(batch: 1, length: tokens.count, useAdapter: useAdapter), rows: Array(0..<tokens.count)).array
        }
    }

    func greedy(_ model: Qwen2Model<Float>, useAdapter: Bool) -> [[Int32]] {
        var options = SamplingOptions()
        options.maxNewTokens = 12
        return TokenGenerator(model: model, endOfSequence: [], padID: 0).generate(prompts: Self.prompts, options: options, useAdapter: useAdapter).map(\.ids)
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max()! }

    func withAdapter(_ path: String, _ adapter: String) throws -> Qwen2Model<Float> {
        let model = try Qwen2Model<Float>.load(path: path).model
        _ = try PEFTAdapter.load(adapter, into: model)
        return model
    }

    func testKeepCopiesUntouchedTensorsAndReencodesFoldedOnesWithinQuantizationError() throws {
        let (base, float) = try writeBases()
        let adapter = try writeAdapter(for: base)
        let baseBytes = try Data(contentsOf: URL(fileURLWithPath: base))
        let merged = directory.appendingPathComponent("out/merged.gguf").path
        try MergedModel.writeGGUF(base: base, adapter: adapter, to: merged, types: .keep)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: base)), baseBytes, "the base was modified")

        // Same metadata, same directory (names, types, dimensions, offsets): the file differs from
        // the base only inside the folded tensors' data, which keep their types.
        let original = try GGUFFile(path: base), written = try GGUFFile(path: merged)
        XCTAssertEqual(written.metadataKeys, original.metadataKeys)
        XCTAssertEqual(written.metadata, original.metadata)
        XCTAssertEqual(written.tensors, original.tensors)
        let mergedBytes = try Data(contentsOf: URL(fileURLWithPath: merged))
        XCTAssertEqual(mergedBytes.count, baseBytes.count)
        let folded = Set(original.tensors.filter { $0.name.hasPrefix("blk.") && $0.dimensions.count == 2 && !$0.name.contains("ffn_up") }.map(\.name))
        XCTAssertEqual(folded.count, 12)
        var outside = [Bool](repeating: true, count: baseBytes.count)
        for info in original.tensors where folded.contains(info.name) {
            let start = original.dataOffset + info.offset
            for i in start..<(start + info.byteCount) { outside[i] = false }
            XCTAssertNotEqual(mergedBytes[start..<(start + info.byteCount)], baseBytes[start..<(start + info.byteCount)], info.name)
        }
        let differingOutside = (0..<baseBytes.count).filter { outside[$0] && mergedBytes[$0] != baseBytes[$0] }
        XCTAssertEqual(differingOutside.count, 0, "bytes outside the folded tensors differ from the base's, first at \(differingOutside.first ?? -1)")

        // Logits: base + adapter (the quantized base with the LoRA path on) against the merged file.
        let tuned = try withAdapter(base, adapter)
        let expected = logits(tuned, useAdapter: true)
        let adapterEffect = maxDifference(expected, logits(tuned, useAdapter: false))
        let baseQuantizationError = maxDifference(expected, logits(try withAdapter(float, adapter), useAdapter: true))
        let mergedModel = try Qwen2Model<Float>.load(path: merged).model
        let reencodingError = maxDifference(logits(mergedModel, useAdapter: false), expected)
        print("keep: re-encoding error \(reencodingError), base quantization error \(baseQuantizationError), adapter effect \(adapterEffect)")
        // Re-encoding W + ΔW in the base's types makes one more quantization error of the same
        // formats on the folded tensors (a subset of those the base's quantization touched), so its
        // effect on the logits stays within the base's own quantization error, which the adapter's
        // effect far exceeds (so a missing or doubled fold would fail).
        XCTAssertLessThan(reencodingError, baseQuantizationError)
        XCTAssertGreaterThan(adapterEffect, 4 * baseQuantizationError)
        // Greedy paths are not compared here: this random model's top two logits are often closer
        // than the 4-bit re-encoding moves them (one of the three prompts parts after 7 tokens).
        // The real model below, with real margins, is compared token for token.
    }

    func testQ8AndF16ReencodeEveryMatrixAndKeepOneDimensionalTensors() throws {
        let (base, float) = try writeBases()
        let adapter = try writeAdapter(for: base)
        let tuned = try withAdapter(base, adapter)
        let expected = logits(tuned, useAdapter: true)
        let baseQuantizationError = maxDifference(expected, logits(try withAdapter(float, adapter), useAdapter: true))
        let original = try GGUFFile(path: base)
        for (types, type, fileType, fraction) in [(GGUFTensorTypes.q8_0, StorageType.q8_0, 7, Float(0.25)), (.f16, .f16, 1, 0.05)] {
            let merged = directory.appendingPathComponent("merged-\(types.rawValue).gguf").path
            try MergedModel.writeGGUF(base: base, adapter: adapter, to: merged, types: types)
            let written = try GGUFFile(path: merged)
            XCTAssertEqual(written.metadata["general.file_type"], .uint32(UInt32(fileType)))
            XCTAssertEqual(written.metadataKeys, original.metadataKeys)
            for info in written.tensors {
                let source = try XCTUnwrap(original.info(named: info.name))
                XCTAssertEqual(info.dimensions, source.dimensions)
                if info.dimensions.count == 1 {
                    XCTAssertEqual(info.type, .f32, info.name)
                    XCTAssertEqual(Array(try written.tensor(named: info.name).bytes), Array(try original.tensor(named: info.name).bytes), info.name)
                } else {
                    XCTAssertEqual(info.type, type, info.name)
                }
            }
            let mergedModel = try Qwen2Model<Float>.load(path: merged).model
            let error = maxDifference(logits(mergedModel, useAdapter: false), expected)
            print("\(types.rawValue): re-encoding error \(error), base quantization error \(baseQuantizationError)")
            // Q8_0's step is a sixteenth of the 4-bit types' and F16 keeps 11 significant bits, so
            // re-encoding everything in them costs a fraction of the base's quantization error.
            XCTAssertLessThan(error, fraction * baseQuantizationError, types.rawValue)
            XCTAssertEqual(greedy(mergedModel, useAdapter: false), greedy(tuned, useAdapter: true), types.rawValue)
        }
    }

    /// An adapter for a wider model, a tensor q8_0 would have to re-encode from a type medtune
    /// cannot decode, a Hugging Face base and an output that exists are refused in one line naming
    /// the file, with nothing written.
    func testRefusalsNameTheFileAndLeaveNothing() throws {
        let (base, _) = try writeBases()
        let adapter = try writeAdapter(for: base)
        let output = directory.appendingPathComponent("out")
        func refused(_ base: String, _ adapter: String, to file: URL, _ types: GGUFTensorTypes = .keep, mentioning: String) {
            XCTAssertThrowsError(try MergedModel.writeGGUF(base: base, adapter: adapter, to: file.path, types: types)) { error in
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
                XCTAssertTrue("\(error)".contains(mentioning), "\(error)")
            }
        }

        // Layer 0's q_proj A one input feature wider.
        let wider = directory.appendingPathComponent("wider")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: adapter), to: wider)
        let file = wider.appendingPathComponent("adapter_model.safetensors")
        let original = try SafetensorsFile(path: file.path)
        var writer = SafetensorsWriter()
        for entry in original.tensorEntries {
            let tensor = try original.tensor(named: entry.name)
            let widened = entry.name.contains("layers.0.self_attn.q_proj.lora_A")
            let shape = widened ? [tensor.shape[0], tensor.shape[1] + 1] : tensor.shape
            try writer.add(entry.name, shape: shape, values: widened ? Array(repeating: 0.1, count: shape.reduce(1, *)) : try tensor.floats())
        }
        try writer.write(to: file.path)
        refused(base, wider.path, to: output.appendingPathComponent("a.gguf"), mentioning: "q_proj")

        // An extra matrix in a type medtune cannot decode (Q3_K, random bytes): keep copies it byte
        // for byte; q8_0 would have to re-encode it, and refuses by name.
        let withQ3K = directory.appendingPathComponent("q3k.gguf").path
        let source = try GGUFFile(path: base)
        var rewriter = GGUFWriter()
        for key in source.metadataKeys { try rewriter.setMetadata(key, source.metadata[key]!) }
        for info in source.tensors {
            try rewriter.addTensor(info.name, type: info.type, shape: info.shape) { $0.copyMemory(from: try source.tensor(named: info.name).bytes) }
        }
        var rng = SplitMix64(seed: 3)
        try rewriter.addTensor("extra.weight", type: try XCTUnwrap(StorageType(ggmlID: 11)), shape: [2, 256]) { buffer in
            for i in 0..<buffer.count { buffer[i] = UInt8.random(in: 0...255, using: &rng) }
        }
        try rewriter.write(to: withQ3K)
        refused(withQ3K, adapter, to: output.appendingPathComponent("b.gguf"), .q8_0, mentioning: "tensor extra.weight: stored as Q3_K")
        let kept = directory.appendingPathComponent("q3k-keep.gguf").path
        try MergedModel.writeGGUF(base: withQ3K, adapter: adapter, to: kept, types: .keep)
        let keptFile = try GGUFFile(path: kept), withQ3KFile = try GGUFFile(path: withQ3K)
        XCTAssertEqual(Array(try keptFile.tensor(named: "extra.weight").bytes), Array(try withQ3KFile.tensor(named: "extra.weight").bytes))

        let hfBase = directory.appendingPathComponent("hf")
        try TinyHFFolder.write(to: hfBase)
        refused(hfBase.path, try writeAdapter(for: hfBase.path, name: "hf-adapter"), to: output.appendingPathComponent("c.gguf"), mentioning: "needs a GGUF base")

        let baseBytes = try Data(contentsOf: URL(fileURLWithPath: base))
        refused(base, adapter, to: URL(fileURLWithPath: base), mentioning: "already exists")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: base)), baseBytes)

        let left = (try? FileManager.default.contentsOfDirectory(atPath: output.path)) ?? []
        XCTAssertEqual(left, [], "left behind: \(left)")
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: directory.path).contains { $0.contains("incomplete") })
    }

    /// `medtune export-lora`: the file passes the checks llama.cpp's loader makes
    /// (src/llama-adapter.cpp: general.type adapter, the base's general.architecture, adapter.type
    /// lora, adapter.lora.alpha, each .lora_a/.lora_b pair naming a base tensor with a.ne[0] = in,
    /// b.ne[1] = out, a.ne[1] = b.ne[0] = rank), holds PEFT's A and B exactly, and llama.cpp's
    /// scale alpha/rank is the adapter's (rsLoRA included); an adapter for another model is refused.
    func testAdapterGGUFIsWhatLlamaCppLoads() throws {
        let (base, _) = try writeBases()
        let baseFile = try GGUFFile(path: base)
        for rsLoRA in [false, true] {
            let model = try Qwen2Model<Float>.load(path: base).model
            var rng = SplitMix64(seed: 7)
            model.attach(model.sites.filter { $0.projection != .up }.map { site in
                let (inFeatures, outFeatures) = model.features(site)
                return (site, LoRAAdapter(a: Tensor([8, inFeatures], (0..<(8 * inFeatures)).map { _ in Float(rng.nextGaussian()) }),
                                          b: Tensor([outFeatures, 8], (0..<(outFeatures * 8)).map { _ in Float(rng.nextGaussian()) }),
                                          alpha: 16, rsLoRA: rsLoRA))
            })
            let adapter = directory.appendingPathComponent("adapter-\(rsLoRA)").path
            try PEFTAdapter.save(model, baseModelNameOrPath: base, to: adapter)
            let output = directory.appendingPathComponent("lora-\(rsLoRA).gguf").path
            try AdapterGGUF.write(base: base, adapter: adapter, to: output)

            let file = try GGUFFile(path: output)
            XCTAssertEqual(file.metadata["general.type"], .string("adapter"))
            XCTAssertEqual(file.metadata["general.architecture"], baseFile.metadata["general.architecture"])
            XCTAssertEqual(file.metadata["adapter.type"], .string("lora"))
            guard case .float32(let alpha) = file.metadata["adapter.lora.alpha"] else { return XCTFail("adapter.lora.alpha is not a float32") }
            XCTAssertEqual(file.tensors.count, 2 * 12)
            for (site, lora) in model.attachedAdapters {
                let name = try XCTUnwrap(Qwen2TensorNames.ggufName(canonical: site.modulePath + ".weight"))
                let weight = try XCTUnwrap(baseFile.info(named: name))
                let a = try XCTUnwrap(file.info(named: name + ".lora_a")), b = try XCTUnwrap(file.info(named: name + ".lora_b"))
                XCTAssertEqual([a.type, b.type], [.f32, .f32])
                XCTAssertEqual(a.dimensions[0], weight.dimensions[0], name)
                XCTAssertEqual(b.dimensions[1], weight.dimensions[1], name)
                XCTAssertEqual(a.dimensions[1], b.dimensions[0], name)
                XCTAssertEqual(try file.tensor(named: a.name).floats(), lora.a.array)
                XCTAssertEqual(try file.tensor(named: b.name).floats(), lora.b.array)
                XCTAssertEqual(Double(alpha) / Double(a.dimensions[1]), lora.scale, accuracy: 1e-6 * lora.scale, name)
            }
        }
        let other = directory.appendingPathComponent("other")
        try TinyHFFolder.write(to: other)
        let output = directory.appendingPathComponent("refused.gguf")
        XCTAssertThrowsError(try AdapterGGUF.write(base: other.path, adapter: directory.appendingPathComponent("adapter-false").path, to: output.path)) {
            XCTAssertFalse("\($0)".contains("\n"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
    }

    /// The LoRA GGUF of a PEFT adapter for the tiny Qwen2 model is, tensor for tensor (names,
    /// order, types, dimensions, offsets, bytes), the file llama.cpp's convert_lora_to_gguf.py
    /// made of it (scripts/golden/lora_gguf.py), with the same values for every key medtune writes;
    /// only the converter's model-card name is left out.
    func testAdapterGGUFEqualsLlamaCppsConverterTensorForTensor() throws {
        let output = directory.appendingPathComponent("tiny-lora.gguf").path
        try AdapterGGUF.write(base: TestPaths.golden("ModelFiles/tiny-qwen2").path, adapter: TestPaths.golden("Exporter/tiny-lora").path, to: output)
        let reference = try GGUFFile(path: TestPaths.golden("Exporter/tiny-lora.gguf").path), written = try GGUFFile(path: output)
        XCTAssertEqual(written.tensors, reference.tensors)
        for info in reference.tensors {
            XCTAssertTrue(try written.tensor(named: info.name).bytes.elementsEqual(try reference.tensor(named: info.name).bytes), info.name)
        }
        for key in written.metadataKeys { XCTAssertEqual(written.metadata[key], reference.metadata[key], key) }
        XCTAssertEqual(Set(reference.metadataKeys).subtracting(written.metadataKeys), ["general.name"])
    }

    /// The real Qwen2.5-Coder-0.5B Q4_K_M GGUF with a random adapter on q (Q5_0), v (Q8_0) and
    /// down (Q4_K and Q6_K), merged with keep and with q8_0, against the base with its adapter on,
    /// teacher-forced on that model's greedy continuations of three prompts (16 tokens each).
    /// q8_0: the same greedy continuations. keep: every tensor but the folded ones is the base's
    /// bytes, and re-encoding in 4 and 5 bits moves the logits by a fraction of the adapter's
    /// effect (measured and printed), enough to swap the top two tokens where they are nearly tied,
    /// so its greedy continuations are not asserted equal; its top-1 agreement is.
    func testRealModelMergesAgainstBasePlusAdapter() throws {
        let adapter = directory.appendingPathComponent("adapter").path
        let (base, model) = try RealBaseAdapter.make(savedTo: adapter)
        let tokenizer = try TokenizerLoader.loadBPE(path: base)
        let prompts = ["def fibonacci(n):", "The capital of France is", "Symptoms of iron deficiency include"].map {
            tokenizer.encode($0, allowSpecial: false, addSpecialTokens: false).map(Int32.init)
        }
        var options = SamplingOptions()
        options.maxNewTokens = 16
        func greedy(_ model: Qwen2Model<Float>, useAdapter: Bool) -> [[Int32]] {
            TokenGenerator(model: model, endOfSequence: [], padID: 0).generate(prompts: prompts, options: options, useAdapter: useAdapter).map(\.ids)
        }
        let expected = greedy(model, useAdapter: true)
        XCTAssertNotEqual(expected, greedy(model, useAdapter: false), "the adapter should change the continuations")
        let sequences = zip(prompts, expected).map { $0 + $1 }
        /// Logit rows [positions × vocabulary] of every sequence.
        func logits(_ model: Qwen2Model<Float>, useAdapter: Bool) -> [[Float]] {
            sequences.flatMap { tokens in
                let all = model.logits(tokens: tokens, pass: ForwardPass(batch: 1, length: tokens.count, useAdapter: useAdapter), rows: Array(0..<tokens.count)).array
                return (0..<tokens.count).map { Array(all[($0 * model.vocabulary)..<(($0 + 1) * model.vocabulary)]) }
            }
        }
        func argmax(_ row: [Float]) -> Int { row.indices.max { row[$0] < row[$1] }! }
        func maxDifference(_ a: [[Float]], _ b: [[Float]]) -> Float { zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max()! }.max()! }
        let reference = logits(model, useAdapter: true)
        let adapterEffect = maxDifference(reference, logits(model, useAdapter: false))

        let original = try GGUFFile(path: base)
        var keepError = Float.infinity
        for types in [GGUFTensorTypes.keep, .q8_0] {
            let merged = directory.appendingPathComponent("merged-\(types.rawValue).gguf").path
            try MergedModel.writeGGUF(base: base, adapter: adapter, to: merged, types: types)
            let written = try GGUFFile(path: merged)
            let mergedModel = try Qwen2Model<Float>.load(path: merged).model
            let rows = logits(mergedModel, useAdapter: false)
            let agreement = Double(zip(rows, reference).filter { argmax($0) == argmax($1) }.count) / Double(rows.count)
            let error = maxDifference(rows, reference)
            print("real model, \(types.rawValue): logits within \(error) of base + adapter (adapter effect \(adapterEffect)), top-1 agreement \(agreement) over \(rows.count) positions")
            switch types {
            case .keep:
                XCTAssertEqual(written.tensors, original.tensors)
                for info in original.tensors where !(info.name.hasPrefix("blk.") && ["attn_q.weight", "attn_v.weight", "ffn_down.weight"].contains { info.name.hasSuffix($0) }) {
                    XCTAssertTrue(try written.tensor(named: info.name).bytes.elementsEqual(try original.tensor(named: info.name).bytes), info.name)
                }
                // Measured: 1.35 against an adapter effect of 3.99; 4 of 63 positions swap near-ties.
                XCTAssertLessThan(error, adapterEffect / 2)
                XCTAssertGreaterThanOrEqual(agreement, 0.9)
                keepError = error
            default:
                // Q8_0's step is a sixteenth of the 4-bit types': re-encoding every matrix in it
                // (embedding and output included) stays well below keep's error. Measured: 0.31.
                XCTAssertLessThan(error, keepError / 2)
                XCTAssertLessThan(error, adapterEffect / 5)
                XCTAssertEqual(agreement, 1)
                XCTAssertEqual(greedy(mergedModel, useAdapter: false), expected, types.rawValue)
            }
            try FileManager.default.removeItem(atPath: merged)
        }
    }
}
