import Foundation
import MedtuneCore
import ModelFiles
import TestSupport
import Transformer
import XCTest
@testable import Exporter

/// `medtune merge`: the merged folder is the base model with its adapter switched on, the base
/// is left as it was, and an adapter made for another model is refused with nothing written.
final class MergeTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-merge") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// The tiny base folder and a PEFT adapter with random, non-zero A and B on q, v and down.
    func baseAndAdapter() throws -> (base: URL, adapter: URL) {
        let base = directory.appendingPathComponent("base"), adapter = directory.appendingPathComponent("adapter")
        try TinyHFFolder.write(to: base)
        let model = try Qwen2Model<Float>.load(path: base.path).model
        var rng = SplitMix64(seed: 3)
        func random(_ dims: [Int]) -> Tensor<Float> { Tensor(dims, (0..<dims.reduce(1, *)).map { _ in (rng.nextFloat() * 2 - 1) * 0.5 }) }
        model.attach(model.sites.filter { [.q, .v, .down].contains($0.projection) }.map { site in
            let (inFeatures, outFeatures) = model.features(site)
            return (site, LoRAAdapter(a: random([4, inFeatures]), b: random([outFeatures, 4]), alpha: 8))
        })
        try PEFTAdapter.save(model, baseModelNameOrPath: base.path, to: adapter.path)
        return (base, adapter)
    }

    func lastLogits(_ model: Qwen2Model<Float>, useAdapter: Bool) -> [Float] {
        let tokens: [Int32] = [72, 101, 108, 108, 111, 44, 32, 119]
        return model.logits(tokens: tokens, pass: ForwardPass(batch: 1, length: tokens.count, useAdapter: useAdapter), rows: [tokens.count - 1]).array
    }

    func testMergedFolderIsTheBaseWithItsAdapterOn() throws {
        let (base, adapter) = try baseAndAdapter()
        let baseBytes = try Data(contentsOf: base.appendingPathComponent("model.safetensors"))
        let merged = directory.appendingPathComponent("merged")
        try MergedModel.write(base: base.path, adapter: adapter.path, to: merged.path, dtype: .f32)

        let tuned = try Qwen2Model<Float>.load(path: base.path).model
        _ = try PEFTAdapter.load(adapter.path, into: tuned)
        let expected = lastLogits(tuned, useAdapter: true), untouched = lastLogits(tuned, useAdapter: false)
        let folded = lastLogits(try Qwen2Model<Float>.load(path: merged.path).model, useAdapter: false)
        let difference = zip(folded, expected).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(difference, 1e-4, "merged logits differ from base + adapter by \(difference)")
        // The adapter moves the logits far more than that, so the comparison tells a fold from none.
        XCTAssertGreaterThan(zip(untouched, expected).map { abs($0 - $1) }.max()!, 1e-2)
        XCTAssertEqual(try Data(contentsOf: base.appendingPathComponent("model.safetensors")), baseBytes, "the base was modified")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: merged.appendingPathComponent("config.json"))) as? [String: Any]
        XCTAssertEqual(config?["torch_dtype"] as? String, "float32")
        for file in ["tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: merged.appendingPathComponent(file).path), file)
        }
    }

    /// transformers reads the merged folder as the base with its adapter: its float32 logits equal
    /// PEFT's on the unmerged base and medtune's base + adapter (where the reference Python is).
    func testTransformersReadsTheMergedFolderAsTheBaseWithItsAdapter() throws {
        guard let python = try ExternalProgram.referencePython(scratch: directory) else {
            throw XCTSkip("no Python with torch, transformers and peft (set MEDTUNE_PYTHON to one)")
        }
        let (base, adapter) = try baseAndAdapter()
        let merged = directory.appendingPathComponent("merged")
        try MergedModel.write(base: base.path, adapter: adapter.path, to: merged.path, dtype: .f32)
        let script = directory.appendingPathComponent("logits.py"), output = directory.appendingPathComponent("logits.json")
        try """
            import json, sys, torch
            from peft import PeftModel
            from transformers import AutoModelForCausalLM
            base, adapter, merged, out = sys.argv[1:5]
            ids = torch.tensor([[72, 101, 108, 108, 111, 44, 32, 119]])
            with torch.no_grad():
                folded = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)(ids).logits[0, -1].tolist()
                peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), adapter)(ids).logits[0, -1].tolist()
            json.dump({"merged": folded, "peft": peft}, open(out, "w"))
            """.write(to: script, atomically: true, encoding: .utf8)
        let result = try ExternalProgram.run(python, [script.path, base.path, adapter.path, merged.path, output.path],
                                             environment: ["CUDA_VISIBLE_DEVICES": ""], scratch: directory)
        XCTAssertEqual(result.status, 0, result.output)
        let logits = try JSONDecoder().decode([String: [Float]].self, from: Data(contentsOf: output))
        let tuned = try Qwen2Model<Float>.load(path: base.path).model
        _ = try PEFTAdapter.load(adapter.path, into: tuned)
        let ours = lastLogits(tuned, useAdapter: true)
        for key in ["merged", "peft"] {
            let theirs = try XCTUnwrap(logits[key])
            XCTAssertLessThan(zip(ours, theirs).map { abs($0 - $1) }.max() ?? 1, 1e-3, key)
        }
    }

    /// bf16: each merged weight is the float32 fold rounded once (the write reads every tensor
    /// back against that), and the folder holds half the bytes of float32.
    func testBFloat16MergeIsTheFoldRoundedOnce() throws {
        let (base, adapter) = try baseAndAdapter()
        let merged = directory.appendingPathComponent("merged-bf16")
        try MergedModel.write(base: base.path, adapter: adapter.path, to: merged.path, dtype: .bf16)
        let checkpoint = try ModelCheckpoint.open(merged.path)
        let name = "model.layers.1.self_attn.q_proj.weight"
        let model = try Qwen2Model<Float>.load(path: base.path).model
        _ = try PEFTAdapter.load(adapter.path, into: model)
        let site = model.attachedAdapters.first { $0.site.modulePath + ".weight" == name }!
        let fold = MergedModel.folded(try ModelCheckpoint.open(base.path).tensor(name).floats(), site.adapter)
        XCTAssertEqual(try checkpoint.tensor(name).floats(), fold.map { HalfFloat.float(fromBFloat: HalfFloat.bfloat(from: $0)) })
        XCTAssertEqual(checkpoint.entry(name)?.type, .bf16)
    }

    /// An adapter whose shapes belong to another model is refused by name, and no folder appears.
    func testAnAdapterForAnotherModelIsRefusedAndNothingIsWritten() throws {
        let (base, adapter) = try baseAndAdapter()
        // The same adapter with layer 0's q_proj A one input feature wider: made for a wider model.
        let other = directory.appendingPathComponent("other-adapter")
        try FileManager.default.copyItem(at: adapter, to: other)
        let file = other.appendingPathComponent("adapter_model.safetensors")
        let original = try SafetensorsFile(path: file.path)
        var writer = SafetensorsWriter()
        for entry in original.tensorEntries {
            let name = entry.name, tensor = try original.tensor(named: name)
            let widened = name.contains("layers.0.self_attn.q_proj.lora_A")
            let shape = widened ? [tensor.shape[0], tensor.shape[1] + 1] : tensor.shape
            try writer.add(name, shape: shape, values: widened ? Array(repeating: 0.1, count: shape.reduce(1, *)) : try tensor.floats())
        }
        try writer.write(to: file.path)
        let merged = directory.appendingPathComponent("merged")
        XCTAssertThrowsError(try MergedModel.write(base: base.path, adapter: other.path, to: merged.path, dtype: .bf16)) { error in
            XCTAssertFalse("\(error)".contains("\n"), "\(error)")
            XCTAssertTrue("\(error)".contains("q_proj"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: merged.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("merged") }
        XCTAssertEqual(leftovers, [])
    }
}
