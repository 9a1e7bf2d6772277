import Foundation
import Generator
import MedtuneCore
import ModelFiles
import TestSupport
import Tokenizers
import Transformer
import XCTest
@testable import Exporter

/// medtune's GGUF files in llama.cpp itself (llama-completion, built by scripts/fetch-peers.sh):
/// a merged model (keep and q8_0) and an adapter from export-lora give the greedy continuation
/// that medtune gives on the same weights. llama.cpp multiplies quantized weights with 8-bit
/// activations, so the two disagree where the top two tokens are nearly tied: each prompt is
/// compared up to the first step whose top-2 margin (medtune's) is 0.05 or less.
final class LlamaCppParityTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-llama-parity") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    static let prompts = ["The capital of France is", "def fibonacci(n):", "Symptoms of iron deficiency include", "发热三天伴咽痛，最可能是"]
    static let newTokens = 32, minimumMargin = 0.05

    func llamaCompletion() throws -> String {
        guard let program = ExternalProgram.llamaTool("llama-completion") else {
            throw XCTSkip("llama-completion not built (scripts/fetch-peers.sh llama.cpp)")
        }
        return program
    }

    func baseAndAdapter() throws -> (base: String, adapter: String) {
        let adapter = directory.appendingPathComponent("adapter").path
        return (try RealBaseAdapter.make(savedTo: adapter).base, adapter)
    }

    /// For each prompt, the text of medtune's greedy tokens up to the first near-tie, and how
    /// many tokens that is.
    func medtuneContinuations(_ model: Qwen2Model<Float>, tokenizer: BPETokenizer, useAdapter: Bool) -> [(text: String, tokens: Int)] {
        var options = SamplingOptions()
        options.maxNewTokens = Self.newTokens
        let generator = TokenGenerator(model: model, endOfSequence: [], padID: 0)
        return Self.prompts.map { prompt in
            let ids = tokenizer.encode(prompt, allowSpecial: false, addSpecialTokens: false).map(Int32.init)
            let generation = generator.generate(prompts: [ids], options: options, useAdapter: useAdapter, topLogprobs: 2)[0]
            let clear = generation.topLogprobs.prefix { $0[0].logprob - $0[1].logprob > Self.minimumMargin }.count
            return (tokenizer.decode(generation.ids.prefix(clear).map(Int.init)), clear)
        }
    }

    func llamaContinuations(_ program: String, model: String, lora: String? = nil, tokens: [Int]) throws -> [String] {
        try zip(Self.prompts, tokens).map { prompt, count in
            guard count > 0 else { return "" }
            let arguments = ["-m", model] + (lora.map { ["--lora", $0] } ?? [])
                + ["-p", prompt, "-n", String(count), "--temp", "0", "-no-cnv", "--no-display-prompt", "-t", "2"]
            let result = try ExternalProgram.run(program, arguments, standardOutputOnly: true, scratch: directory)
            XCTAssertEqual(result.status, 0, result.output)
            return result.output
        }
    }

    func assertSameContinuations(llama: [String], medtune: [(text: String, tokens: Int)], _ label: String) {
        let compared = medtune.map(\.tokens).reduce(0, +)
        print("\(label): \(compared) of \(Self.prompts.count * Self.newTokens) greedy tokens before a near-tie, compared with llama.cpp")
        XCTAssertGreaterThanOrEqual(compared, Self.prompts.count * Self.newTokens / 3, "\(label): too few clear decisions to compare")
        for (index, (theirs, ours)) in zip(llama, medtune).enumerated() {
            // llama-completion ends its output with an empty line of its own.
            XCTAssertEqual(theirs.hasSuffix("\n\n") ? String(theirs.dropLast(2)) : theirs, ours.text, "\(label), prompt \(index)")
        }
    }

    func testMergedGGUFGivesMedtunesContinuationsInLlamaCpp() throws {
        let program = try llamaCompletion()
        let (base, adapter) = try baseAndAdapter()
        let tokenizer = try TokenizerLoader.loadBPE(path: base)
        for types in [GGUFTensorTypes.keep, .q8_0] {
            let merged = directory.appendingPathComponent("merged-\(types.rawValue).gguf").path
            try MergedModel.writeGGUF(base: base, adapter: adapter, to: merged, types: types)
            let ours = medtuneContinuations(try Qwen2Model<Float>.load(path: merged).model, tokenizer: tokenizer, useAdapter: false)
            assertSameContinuations(llama: try llamaContinuations(program, model: merged, tokens: ours.map(\.tokens)), medtune: ours,
                                    "merged \(types.rawValue)")
        }
    }

    func testExportedLoRAOnTheBaseGivesMedtunesContinuationsInLlamaCpp() throws {
        let program = try llamaCompletion()
        let (base, adapter) = try baseAndAdapter()
        let lora = directory.appendingPathComponent("adapter.gguf").path
        try AdapterGGUF.write(base: base, adapter: adapter, to: lora)
        let model = try Qwen2Model<Float>.load(path: base).model
        _ = try PEFTAdapter.load(adapter, into: model)
        let ours = medtuneContinuations(model, tokenizer: try TokenizerLoader.loadBPE(path: base), useAdapter: true)
        assertSameContinuations(llama: try llamaContinuations(program, model: base, lora: lora, tokens: ours.map(\.tokens)), medtune: ours, "export-lora")
    }
}
