import ArgumentParser
import Foundation
import Generator
import MedtuneCore

/// `medtune generate`: continue prompts with a model, with or without a LoRA adapter.
struct GenerateCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate answers to prompts with a model (and optionally a LoRA adapter).",
        discussion: """
        Prompts come from --prompt (repeatable) or --file (one prompt per line). With --template, each
        prompt is the Question of that template: tutorial (诊断问题：…###答案：), chatml (Qwen2), deepseek-r1,
        or any text with {Question}. Without one, the prompt text is given to the model as it is.
        Sampling follows HF transformers: repetition penalty, then temperature, top-k, top-p, min-p.
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var sampling: SamplingFlags
    @OptionGroup var device: DeviceOptions

    @Option(name: .long, help: "A prompt (repeatable).")
    var prompt: [String] = []
    @Option(name: .long, help: "A UTF-8 file with one prompt per line.")
    var file: String?
    @Option(name: .long, help: "Prompt template: tutorial, chatml, deepseek-r1, or a text with {Question}.")
    var template: String?
    @Option(name: .long, help: "System message for chat templates.")
    var system: String?
    @Flag(name: .long, help: "Answer with the base model even when --adapter is given.")
    var noAdapter = false
    @Flag(name: .long, help: "One JSON object per prompt: prompt, ids, text, finish_reason (and top_logprobs).")
    var json = false
    @Option(name: .long, help: "With --json: the K most likely tokens and their log-probabilities at each step.")
    var topLogprobs = 0
    @Option(name: .long, help: "Prompts generated together in one batch.")
    var batchSize = 4

    func validate() throws {
        if prompt.isEmpty == (file == nil) { throw ValidationError("give either --prompt or --file") }
        if topLogprobs < 0 { throw ValidationError("--top-logprobs must be ≥ 0") }
        if batchSize < 1 { throw ValidationError("--batch-size must be ≥ 1") }
    }

    func run() throws {
        let options = try sampling.options()
        let texts = try file.map { try UTF8Text.read($0).split(separator: "\n", omittingEmptySubsequences: true).map(String.init) } ?? prompt
        guard !texts.isEmpty else { throw InputError(file: file, "no prompts") }
        let template = try self.template.map { try PromptTemplate(name: $0, system: system) }
        let rendered = try texts.map { try template?.render(["Question": $0]) ?? $0 }
        let gpu = try device.openGPU()
        let session = try ModelSession(model)
        let generator = session.textGenerator(stopStrings: sampling.stop, model: try DeviceOptions.model(session, on: gpu),
                                              precision: device.cpuPrecision)
        let encoded = try rendered.map {
            try generator.encode($0, template: template, maxNewTokens: options.maxNewTokens)
        }
        let useAdapter = session.adapter != nil && !noAdapter
        let streaming = !json && texts.count == 1
        for start in stride(from: 0, to: encoded.count, by: batchSize) {
            let batch = Array(encoded[start..<min(start + batchSize, encoded.count)])
            let results = generator.generate(prompts: batch, options: options, useAdapter: useAdapter, topLogprobs: json ? topLogprobs : 0,
                                             stream: streaming ? { _, piece in print(piece, terminator: ""); fflush(stdout) } : nil)
            try DeviceOptions.check(generator.model)
            for (i, result) in results.enumerated() {
                if json {
                    print(try jsonLine(prompt: rendered[start + i], result, session: session))
                } else if streaming {
                    print("")
                } else {
                    print("### \(texts[start + i])\n\(result.text)\n")
                }
            }
        }
    }

    private func jsonLine(prompt: String, _ result: TextGeneration, session: ModelSession) throws -> String {
        var object: [String: Any] = ["prompt": prompt, "ids": result.ids.map(Int.init), "text": result.text,
                                     "finish_reason": result.finishReason.rawValue, "prompt_tokens": result.promptTokens]
        if topLogprobs > 0 {
            object["top_logprobs"] = result.topLogprobs.map { step in
                step.map { ["id": Int($0.id), "token": session.tokenizer.decode([Int($0.id)]), "logprob": $0.logprob] as [String: Any] }
            }
        }
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}
