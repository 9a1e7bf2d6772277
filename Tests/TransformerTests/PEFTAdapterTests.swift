import Foundation
import MedtuneCore
import TestSupport
import Transformer
import XCTest

/// PEFT adapter files: a round trip through medtune's writer and reader, and refusal of adapters
/// that do not fit the model, before the model is touched.
final class PEFTAdapterTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws { folder = try TestPaths.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func testRoundTripGivesTheSameModel() throws {
        var shape = TinyQwen.Shape()
        shape.targets = ["q_proj", "v_proj", "gate_proj"]
        let trained: Qwen2Model<Float> = TinyQwen.make(shape, seed: 4)
        let config = PEFTAdapterConfig(r: shape.rank, loraAlpha: shape.alpha, targetModules: shape.targets)
        try PEFTAdapter.save(trained, baseModelNameOrPath: nil, to: folder.path)
        shape.targets = []
        let fresh: Qwen2Model<Float> = TinyQwen.make(shape, seed: 4)
        let loaded = try PEFTAdapter.load(folder.path, into: fresh)
        XCTAssertEqual(loaded, config)
        let tokens: [Int32] = [1, 2, 3, 4, 5]
        let pass = ForwardPass(batch: 1, length: 5)
        XCTAssertEqual(fresh.logits(tokens: tokens, pass: pass, rows: [4]).array, trained.logits(tokens: tokens, pass: pass, rows: [4]).array)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(json["peft_type"] as? String, "LORA")
        XCTAssertEqual(json["r"] as? Int, shape.rank)
    }

    func testAdapterForAnotherModelIsRefused() throws {
        var shape = TinyQwen.Shape()
        shape.targets = ["q_proj"]
        let other: Qwen2Model<Float> = TinyQwen.make(shape)
        try PEFTAdapter.save(other, baseModelNameOrPath: nil, to: folder.path)
        var wider = TinyQwen.Shape()
        wider.hidden = 12; wider.heads = 3; wider.targets = []
        let model: Qwen2Model<Float> = TinyQwen.make(wider)
        XCTAssertThrowsError(try PEFTAdapter.load(folder.path, into: model)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("adapter_model.safetensors") && text.contains("q_proj.lora_A") && text.contains("another model"), text)
        }
        XCTAssertTrue(model.adapters.isEmpty, "nothing attached")
        var deeper = TinyQwen.Shape()
        deeper.layers = 1; deeper.targets = []
        XCTAssertThrowsError(try PEFTAdapter.load(folder.path, into: TinyQwen.make(deeper) as Qwen2Model<Float>)) { error in
            XCTAssertTrue("\(error)".contains("layers.1"), "\(error)")
        }
    }

    func testMissingOrUnsupportedFiles() throws {
        let model: Qwen2Model<Float> = TinyQwen.make()
        XCTAssertThrowsError(try PEFTAdapter.load(folder.path, into: model)) { XCTAssertTrue("\($0)".contains("adapter_config.json"), "\($0)") }
        try Data(#"{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"]}"#.utf8)
            .write(to: folder.appendingPathComponent("adapter_config.json"))
        try Data([0, 1, 2]).write(to: folder.appendingPathComponent("adapter_model.bin"))
        XCTAssertThrowsError(try PEFTAdapter.load(folder.path, into: model)) { XCTAssertTrue("\($0)".contains("safe_serialization"), "\($0)") }
        try Data(#"{"peft_type": "IA3", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"]}"#.utf8)
            .write(to: folder.appendingPathComponent("adapter_config.json"))
        XCTAssertThrowsError(try PEFTAdapterConfig(file: folder.appendingPathComponent("adapter_config.json").path)) {
            XCTAssertTrue("\($0)".contains("IA3"), "\($0)")
        }
        try Data(#"{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["c_attn"]}"#.utf8)
            .write(to: folder.appendingPathComponent("adapter_config.json"))
        XCTAssertThrowsError(try PEFTAdapterConfig(file: folder.appendingPathComponent("adapter_config.json").path)) {
            XCTAssertTrue("\($0)".contains("c_attn"), "\($0)")
        }
    }

    /// Keys that change what the adapter computes are refused by name, not loaded as plain LoRA.
    private func refusal(_ key: String, _ value: String) throws -> String {
        let path = folder.appendingPathComponent("adapter_config.json")
        try Data(#"{"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"], "\#(key)": \#(value)}"#.utf8).write(to: path)
        do {
            _ = try PEFTAdapterConfig(file: path.path)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    func testDoRAIsRefused() throws {
        XCTAssertEqual(try refusal("use_dora", "true"),
                       folder.appendingPathComponent("adapter_config.json").path + ": use_dora is true; medtune applies plain LoRA only")
        XCTAssertEqual(try refusal("use_dora", "false"), "accepted")
    }

    func testLayersToTransformIsRefused() throws {
        XCTAssertTrue(try refusal("layers_to_transform", "[0, 1]").hasSuffix("adapter_config.json: layers_to_transform is set; medtune adapts every layer"))
        XCTAssertEqual(try refusal("layers_to_transform", "null"), "accepted")
    }

    func testModulesToSaveIsRefused() throws {
        XCTAssertTrue(try refusal("modules_to_save", #"["lm_head"]"#).hasSuffix("adapter_config.json: modules_to_save is set; medtune trains and loads LoRA matrices only"))
        XCTAssertEqual(try refusal("modules_to_save", "null"), "accepted")
        XCTAssertEqual(try refusal("modules_to_save", "[]"), "accepted")
    }

    func testBiasOtherThanNoneIsRefused() throws {
        XCTAssertTrue(try refusal("bias", #""lora_only""#).hasSuffix(#"adapter_config.json: bias is lora_only; medtune trains no biases (only "none" is supported)"#))
        XCTAssertEqual(try refusal("bias", #""none""#), "accepted")
    }
}
