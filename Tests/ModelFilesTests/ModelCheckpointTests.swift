import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

final class ModelCheckpointTests: XCTestCase {
    func testQwenGGUFConfigAndCanonicalNames() throws {
        let checkpoint = try ModelCheckpoint.open(TestPaths.require(TestPaths.qwenGGUF).path)
        XCTAssertEqual(checkpoint.format, .gguf)
        XCTAssertEqual(checkpoint.config, Qwen2Config(
            hiddenSize: 896, layerCount: 24, headCount: 14, kvHeadCount: 2, intermediateSize: 4864,
            ropeTheta: 1_000_000, rmsNormEpsilon: 1e-6, vocabSize: 151_936, tieWordEmbeddings: false,
            maxPositionEmbeddings: 32768))
        XCTAssertEqual(checkpoint.config.headDim, 64)
        // Every tensor of the file maps onto the expected canonical set, and nothing else.
        let expected = Set(Qwen2TensorNames.expected(checkpoint.config).map(\.name))
        XCTAssertEqual(Set(checkpoint.tensorNames), expected)
        let q = try checkpoint.linear(Qwen2TensorNames.layer(0, .qProj))
        XCTAssertEqual(q.name, "blk.0.attn_q.weight")
        XCTAssertEqual(q.shape, [896, 896])
        XCTAssertEqual(q.type, .q5_0)
        XCTAssertEqual(try checkpoint.linear(Qwen2TensorNames.layer(5, .downProj)).shape, [896, 4864])
        XCTAssertEqual(try checkpoint.floats(Qwen2TensorNames.layer(23, .kBias)).count, 128)
        XCTAssertEqual(try checkpoint.outputProjection().name, "output.weight")
        XCTAssertEqual(checkpoint.entry(Qwen2TensorNames.embedding)?.type, .q5_0)
    }

    func testGGUFNameMapping() {
        XCTAssertEqual(Qwen2TensorNames.canonical(ggufName: "token_embd.weight"), "model.embed_tokens.weight")
        XCTAssertEqual(Qwen2TensorNames.canonical(ggufName: "output.weight"), "lm_head.weight")
        XCTAssertEqual(Qwen2TensorNames.canonical(ggufName: "output_norm.weight"), "model.norm.weight")
        XCTAssertEqual(Qwen2TensorNames.canonical(ggufName: "blk.17.attn_v.bias"), "model.layers.17.self_attn.v_proj.bias")
        XCTAssertEqual(Qwen2TensorNames.canonical(ggufName: "blk.3.ffn_norm.weight"), "model.layers.3.post_attention_layernorm.weight")
        XCTAssertEqual(Qwen2TensorNames.canonical(ggufName: "blk.3.attn_output.weight"), "model.layers.3.self_attn.o_proj.weight")
        XCTAssertEqual(Qwen2TensorNames.canonical(ggufName: "rope_freqs.weight"), "rope_freqs.weight")
        XCTAssertEqual(Qwen2TensorNames.canonical(ggufName: "blk.x.attn_q.weight"), "blk.x.attn_q.weight")
    }

    /// ggufName(canonical:) inverts canonical(ggufName:) on every tensor of the real file, and
    /// names outside the layout have no GGUF name.
    func testCanonicalNamesMapBackToTheFilesGGUFNames() throws {
        let file = try GGUFFile(path: TestPaths.require(TestPaths.qwenGGUF).path)
        for info in file.tensors {
            XCTAssertEqual(Qwen2TensorNames.ggufName(canonical: Qwen2TensorNames.canonical(ggufName: info.name)), info.name)
        }
        XCTAssertNil(Qwen2TensorNames.ggufName(canonical: "model.layers.1.self_attn.q_proj.lora_A.weight"))
        XCTAssertNil(Qwen2TensorNames.ggufName(canonical: "rope_freqs.weight"))
    }

    func testUnsupportedArchitectureNamesWhatIsSupported() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gguf = try TinyQwen.gguf(architecture: "llama").write(to: dir)
        XCTAssertThrowsError(try ModelCheckpoint.open(gguf)) { error in
            XCTAssertTrue("\(error)".contains("'llama' is not supported (supported: qwen2)"), "\(error)")
        }
        let folder = dir.appendingPathComponent("hf")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try #"{"model_type": "bert", "hidden_size": 8}"#.write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelCheckpoint.open(folder.path)) { error in
            XCTAssertTrue("\(error)".contains("model_type: 'bert' is not supported (supported: qwen2)"), "\(error)")
        }
    }

    func testShapeMismatchAndMissingTensorNameFileAndTensor() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertNoThrow(try ModelCheckpoint.open(TinyQwen.gguf().write(to: dir, name: "ok.gguf")))

        var wrong = TinyQwen.gguf()
        let index = try XCTUnwrap(wrong.tensors.firstIndex { $0.name == "blk.1.ffn_up.weight" })
        wrong.tensors[index].dimensions = [TinyQwen.hidden, TinyQwen.intermediate - 32]
        wrong.tensors[index].data = Array(wrong.tensors[index].data.prefix(4 * TinyQwen.hidden * (TinyQwen.intermediate - 32)))
        let wrongPath = try wrong.write(to: dir, name: "wrong.gguf")
        XCTAssertThrowsError(try ModelCheckpoint.open(wrongPath)) { error in
            XCTAssertEqual("\(error)", "\(wrongPath): tensor blk.1.ffn_up.weight: shape [32, 64] does not match [64, 64] implied by the config")
        }

        var missing = TinyQwen.gguf()
        missing.tensors.removeAll { $0.name == "blk.0.attn_k.bias" }
        let missingPath = try missing.write(to: dir, name: "missing.gguf")
        XCTAssertThrowsError(try ModelCheckpoint.open(missingPath)) { error in
            XCTAssertEqual("\(error)", "\(missingPath): tensor model.layers.0.self_attn.k_proj.bias: missing from the model")
        }
    }
}

/// A tiny Qwen2 model in GGUF form, every tensor f32 with a recognisable value pattern.
enum TinyQwen {
    static let hidden = 64, layers = 2, heads = 4, kvHeads = 2, intermediate = 64, vocab = 32

    static func gguf(architecture: String = "qwen2") -> GGUFBuilder {
        var b = GGUFBuilder()
        b.metadata = [
            ("general.architecture", .string(architecture)),
            ("\(architecture).block_count", .uint32(UInt32(layers))),
            ("\(architecture).context_length", .uint32(128)),
            ("\(architecture).embedding_length", .uint32(UInt32(hidden))),
            ("\(architecture).feed_forward_length", .uint32(UInt32(intermediate))),
            ("\(architecture).attention.head_count", .uint32(UInt32(heads))),
            ("\(architecture).attention.head_count_kv", .uint32(UInt32(kvHeads))),
            ("\(architecture).rope.freq_base", .float32(1_000_000)),
            ("\(architecture).attention.layer_norm_rms_epsilon", .float32(1e-6)),
            ("tokenizer.ggml.tokens", .array((0..<vocab).map { .string("t\($0)") })),
        ]
        let config = Qwen2Config(hiddenSize: hidden, layerCount: layers, headCount: heads, kvHeadCount: kvHeads,
                                 intermediateSize: intermediate, vocabSize: vocab)
        var ggufName: [String: String] = ["model.embed_tokens.weight": "token_embd.weight",
                                          "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"]
        for i in 0..<layers {
            for t in Qwen2TensorNames.Layer.allCases { ggufName[Qwen2TensorNames.layer(i, t)] = "blk.\(i).\(t.ggufNameForTests)" }
        }
        for (index, (name, shape)) in Qwen2TensorNames.expected(config).enumerated() {
            let count = shape.reduce(1, *)
            let values = (0..<count).map { Float(($0 * 31 + index * 7) % 23 - 11) / 64 }
            b.add(ggufName[name] ?? name, type: .f32, dimensions: shape.reversed(), data: littleEndianBytes(values))
        }
        return b
    }
}

extension Qwen2TensorNames.Layer {
    /// GGUF names written out independently of the mapping under test.
    var ggufNameForTests: String {
        [.inputNorm: "attn_norm.weight", .postAttentionNorm: "ffn_norm.weight", .qProj: "attn_q.weight",
         .qBias: "attn_q.bias", .kProj: "attn_k.weight", .kBias: "attn_k.bias", .vProj: "attn_v.weight",
         .vBias: "attn_v.bias", .oProj: "attn_output.weight", .gateProj: "ffn_gate.weight",
         .upProj: "ffn_up.weight", .downProj: "ffn_down.weight"][self]!
    }
}
