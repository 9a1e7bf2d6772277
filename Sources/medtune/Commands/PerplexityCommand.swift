import ArgumentParser
import Evaluator
import Foundation
import MedtuneCore

/// `medtune perplexity`: a model's perplexity over a text file, measured as llama.cpp's
/// llama-perplexity measures it, so that the two can be compared on the same file.
struct PerplexityCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a model (and adapter) over a text file, as llama-perplexity measures it.",
        discussion: """
            The file's text is tokenized whole (no special tokens; BOS where the tokenizer adds one) and cut into \
            chunks of --context tokens; each chunk is one pass and the second half of its tokens is scored. The \
            result is exp(mean negative log-likelihood) ± its standard error, as llama-perplexity prints it \
            (`llama-perplexity -m MODEL -f FILE -c CONTEXT`). With --precision q8 the products with GGUF block \
            weights quantize their inputs to 8 bits and multiply in integers, as llama.cpp's CPU backend does.
            """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "The text file to measure on.")
    var file: String

    @Option(name: .long, help: "Tokens per chunk (llama-perplexity's -c).")
    var context = 512

    @Option(name: .long, help: "Measure only the first N chunks (llama-perplexity's --chunks).")
    var chunks: Int?

    @Option(name: .long, help: ArgumentHelp("The products with the weights: float32 (exact), q8 (8-bit activations in integer products with GGUF block weights, as llama.cpp) or bfloat16 (AVX-512 BF16).",
                                            valueName: "float32|q8|bfloat16"))
    var precision: MatrixPrecision = .float32

    func validate() throws {
        if context < 4 { throw ValidationError("--context must be at least 4") }
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be at least 1") }
        if !precision.isSupported { throw ValidationError("--precision bfloat16 needs a CPU with AVX-512 BF16 (avx512_bf16)") }
    }

    func run() throws {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw InputError(file: file, "cannot read the text (\(SystemError.reason(of: error)))")
        }
        let session = try ModelSession(model)
        let bos = session.tokenizer.addBos ? session.tokenizer.bosTokenId.map(Int32.init) : nil
        var tokens = session.tokenizer.encode(text, allowSpecial: false, addSpecialTokens: false).map(Int32.init)
        if let bos { tokens.insert(bos, at: 0) }
        let measure = Perplexity(context: context, bos: bos)
        guard measure.chunks(in: tokens.count) >= 2 else {
            throw InputError(file: file, "tokenizes to \(tokens.count) tokens; a context of \(context) needs at least \(2 * context)")
        }
        let total = min(measure.chunks(in: tokens.count), chunks ?? .max)
        FileHandle.standardError.write(Data("perplexity: \(tokens.count) tokens, \(total) chunks of \(context)\n".utf8))
        let result = measure.measure(session.model, tokens: tokens, limit: chunks, useAdapter: model.adapter != nil,
                                     precision: precision) { chunk, running in
            FileHandle.standardError.write(Data("[\(chunk)]\(String(format: "%.4f", running))\(chunk == total ? "\n" : ",")".utf8))
        }
        print(String(format: "Final estimate: PPL = %.4f +/- %.5f (%d tokens scored in %d chunks of %d)",
                     result.perplexity, result.standardError, result.scoredTokens, result.chunks, context))
    }
}
