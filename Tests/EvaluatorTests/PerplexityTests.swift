import Evaluator
import Foundation
import MedtuneCore
import TestSupport
import Tokenizers
import Transformer
import XCTest

/// `medtune perplexity` measures as llama.cpp's llama-perplexity does: on the same GGUF and text,
/// the same number of scored tokens and a perplexity within llama.cpp's own error (it multiplies
/// quantized weights with 8-bit activations), and the definition checked on a tiny model by hand.
final class PerplexityTests: XCTestCase {
    /// One chunk of 8 tokens on the tiny model: the mean over positions 4…6 of −log softmax at
    /// the next token, computed here from the model's full logits.
    func testOneChunkIsTheMeanLossOfItsSecondHalf() {
        let model = TinyQwen.make(seed: 5, as: Float.self)
        let tokens: [Int32] = [3, 9, 1, 4, 7, 2, 8, 5, 6, 0]
        let result = Perplexity(context: 8, bos: nil).measure(model, tokens: tokens)
        XCTAssertEqual(result.chunks, 1)
        XCTAssertEqual(result.scoredTokens, 3)
        let logits = model.logits(tokens: Array(tokens.prefix(8)), pass: ForwardPass(batch: 1, length: 8), rows: Array(0..<8)).array
        let vocabulary = model.vocabulary
        let losses = (4...6).map { position -> Double in
            let row = logits[(position * vocabulary)..<((position + 1) * vocabulary)].map(Double.init)
            let top = row.max()!
            return top + log(row.reduce(0) { $0 + exp($1 - top) }) - row[Int(tokens[position + 1])]
        }
        XCTAssertEqual(result.perplexity, exp(losses.reduce(0, +) / 3), accuracy: 1e-9)
    }

    func testMatchesLlamaPerplexityOnTheSameFile() throws {
        let (ours, llama) = try bothPerplexities("medical_o1_en_sample.jsonl", precision: .float32)
        XCTAssertEqual(ours.scoredTokens, 4 * 127)
        // Measured: 10.838 against 10.852, 0.13 % apart, a hundredth of either standard error.
        XCTAssertEqual(ours.perplexity, llama.perplexity, accuracy: 0.5 * llama.error)
        XCTAssertEqual(ours.standardError, llama.error, accuracy: 0.05 * llama.error)
    }

    /// In q8 medtune computes as llama.cpp's CPU backend does (8-bit activations, integer products
    /// with the quantized weights), with float rather than f16 block scales and a float32 KV
    /// cache; on Chinese medical records its perplexity is that of llama-perplexity.
    ///
    /// Rounding activations to 8 bits makes the result depend on the order of float additions:
    /// a last-bit difference in one layer moves some value across a rounding boundary, a whole
    /// step, in the next. On 40 records, 4 chunks of 256, medtune's three kernels give 16.96
    /// (AVX2), 17.02 (portable C) and 17.03 (AVX-512 VNNI) against llama.cpp's 16.99 ± 2.19
    /// (float32: 17.01): apart by 2 % of the standard error at most, the tolerance allowed here.
    func testQ8IsNoWorseThanLlamaPerplexityOnChineseRecords() throws {
        let (ours, llama) = try bothPerplexities("medical_o1_zh_sample.jsonl", precision: .q8)
        XCTAssertEqual(ours.scoredTokens, 4 * 127)
        XCTAssertLessThanOrEqual(ours.perplexity, llama.perplexity + 0.05 * llama.error)
    }

    /// medtune's perplexity (in `precision`) and llama-perplexity's over 4 chunks of 256 of the
    /// real GGUF, on the same text: the first 40 records of the shared data file `records`.
    private func bothPerplexities(_ records: String, precision: MatrixPrecision) throws
        -> (ours: Perplexity.Result, llama: (perplexity: Double, error: Double)) {
        let program = try llamaPerplexity()
        let directory = try TestPaths.temporaryDirectory("medtune-perplexity")
        defer { try? FileManager.default.removeItem(at: directory) }
        let gguf = try TestPaths.require(TestPaths.qwenGGUF).path
        let (file, tokens, model) = try medicalText(records, in: directory, gguf: gguf)
        let ours = Perplexity(context: 256, bos: nil).measure(model, tokens: tokens, limit: 4, precision: precision)
        let llama = try run(program, gguf: gguf, file: file, in: directory)
        print("\(precision.rawValue) perplexity over 4 chunks of 256 of \(records): medtune \(ours.perplexity) ± \(ours.standardError), llama.cpp \(llama.perplexity) ± \(llama.error)")
        return (ours, llama)
    }

    private func llamaPerplexity() throws -> String {
        guard let program = ExternalProgram.llamaTool("llama-perplexity") else {
            throw XCTSkip("llama-perplexity not built (scripts/fetch-peers.sh llama.cpp)")
        }
        return program
    }

    /// The first 40 records of a shared data file as text (question, response, blank line), in
    /// a file of `directory`; its tokens, and the model.
    private func medicalText(_ name: String, in directory: URL, gguf: String) throws -> (file: URL, tokens: [Int32], model: Qwen2Model<Float>) {
        let records = try String(contentsOf: try TestPaths.require(TestPaths.sharedData.appendingPathComponent(name)),
                                 encoding: .utf8).split(separator: "\n").prefix(40)
        let text = try records.map { line -> String in
            let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return "\(record["Question"] ?? "")\n\(record["Response"] ?? "")\n\n"
        }.joined()
        let file = directory.appendingPathComponent("text.txt")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let (model, _) = try Qwen2Model<Float>.load(path: gguf)
        let tokenizer = try TokenizerLoader.loadBPE(path: gguf)
        XCTAssertFalse(tokenizer.addBos, "Qwen2 adds no BOS; the chunks are the text's own tokens")
        return (file, tokenizer.encode(text, allowSpecial: false, addSpecialTokens: false).map(Int32.init), model)
    }

    /// llama-perplexity's final estimate over the first 4 chunks of 256 tokens of `file`.
    private func run(_ program: String, gguf: String, file: URL, in directory: URL) throws -> (perplexity: Double, error: Double) {
        let run = try ExternalProgram.run(program, ["-m", gguf, "-f", file.path, "-c", "256", "--chunks", "4", "-t", "2"], scratch: directory)
        XCTAssertEqual(run.status, 0, run.output)
        let line = try XCTUnwrap(run.output.split(separator: "\n").first { $0.contains("Final estimate: PPL = ") })
        let numbers = line.split(separator: "=")[1].split(separator: "+/-").map { Double($0.trimmingCharacters(in: .whitespaces))! }
        return (numbers[0], numbers[1])
    }
}
