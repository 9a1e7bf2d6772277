import Foundation
import MedtuneCore
import Records

/// How a record (a question and whatever other fields it has) becomes the text a model continues.
public enum PromptTemplate: Equatable, Sendable {
    /// The medical tutorial's inference prompt: `诊断问题：{Question}\n详细分析：\n###答案：\n`.
    case tutorial
    /// Any text with `{Field}` placeholders filled from the record (`{{` and `}}` are literal braces).
    case custom(String)
    /// Qwen2's ChatML; `system` nil uses Qwen2.5's default system message.
    case chatML(system: String?)
    /// DeepSeek-R1-Distill's format: `<｜begin▁of▁sentence｜>{system}<｜User｜>{q}<｜Assistant｜><think>\n`.
    case deepSeekR1(system: String?)

    public static let tutorialText = "诊断问题：{Question}\n详细分析：\n###答案：\n"
    public static let qwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

    /// Names accepted on the command line: tutorial, chatml, deepseek-r1, or a template text
    /// containing at least one `{Field}`.
    public init(name: String, system: String? = nil) throws {
        switch name {
        case "tutorial", "raw": self = .tutorial
        case "chatml", "qwen2": self = .chatML(system: system)
        case "deepseek-r1", "deepseek": self = .deepSeekR1(system: system)
        default:
            guard name.contains("{") else {
                throw InputError(at: "--template", "unknown template '\(name)' (expected tutorial, chatml, deepseek-r1, or a text with {Field} placeholders)")
            }
            _ = try RecordTemplate(name)
            self = .custom(name)
        }
    }

    /// The template as the command line names it.
    public var name: String {
        switch self {
        case .tutorial: return "tutorial"
        case .custom(let text): return text
        case .chatML: return "chatml"
        case .deepSeekR1: return "deepseek-r1"
        }
    }

    /// The fields a template reads from each record.
    public var fields: [String] {
        switch self {
        case .tutorial: return (try? Self.placeholders(in: Self.tutorialText)) ?? []
        case .custom(let text): return (try? Self.placeholders(in: text)) ?? []
        case .chatML, .deepSeekR1: return ["Question"]
        }
    }

    /// Whether the prompt contains special-token text that the tokenizer must match as such.
    public var usesSpecialTokens: Bool {
        switch self {
        case .tutorial, .custom: return false
        case .chatML, .deepSeekR1: return true
        }
    }

    /// The prompt for one record. `questionField` names the field chat formats put in the user turn.
    public func render(_ record: [String: String], questionField: String = "Question") throws -> String {
        switch self {
        case .tutorial: return try Self.fill(Self.tutorialText, record)
        case .custom(let text): return try Self.fill(text, record)
        case .chatML(let system):
            let question = try Self.field(questionField, record)
            return "<|im_start|>system\n\(system ?? Self.qwenDefaultSystem)<|im_end|>\n<|im_start|>user\n\(question)<|im_end|>\n<|im_start|>assistant\n"
        case .deepSeekR1(let system):
            let question = try Self.field(questionField, record)
            return "<｜begin▁of▁sentence｜>\(system ?? "")<｜User｜>\(question)<｜Assistant｜><think>\n"
        }
    }

    static func field(_ name: String, _ record: [String: String]) throws -> String {
        guard let value = record[name] else {
            throw InputError(at: "template", "the record has no field '\(name)' (fields: \(record.keys.sorted().joined(separator: ", ")))")
        }
        return value
    }

    /// Placeholder names in order of appearance.
    public static func placeholders(in text: String) throws -> [String] { try RecordTemplate(text).fields }

    /// The text with its placeholders filled, by the same template engine training uses.
    static func fill(_ text: String, _ record: [String: String]) throws -> String {
        try RecordTemplate(text).render { try field($0, record) }
    }
}

/// A generated text split into its reasoning (`<think>…</think>`) and its answer (the text after
/// a marker such as `###答案：`, or everything after the reasoning when the marker is absent).
public struct ExtractedAnswer: Codable, Equatable, Sendable {
    public var reasoning: String?
    public var answer: String
    public var markerFound: Bool

    public static let defaultMarker = "###答案："

    /// `text` is the continuation of a prompt; a prompt that ends inside `<think>` (DeepSeek-R1's
    /// format) makes the continuation start within the reasoning: pass `startsInReasoning`.
    public init(from text: String, marker: String? = defaultMarker, startsInReasoning: Bool = false) {
        var rest = Substring(text)
        reasoning = nil
        if let open = startsInReasoning ? rest.startIndex : rest.range(of: "<think>")?.upperBound {
            if let close = rest[open...].range(of: "</think>") {
                reasoning = String(rest[open..<close.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
                rest = rest[close.upperBound...]
            } else if startsInReasoning || rest.hasPrefix("<think>") {
                // Reasoning that never closed (cut by the token limit): there is no answer.
                reasoning = String(rest[open...]).trimmingCharacters(in: .whitespacesAndNewlines)
                rest = ""
            }
        }
        if let marker, !marker.isEmpty, let found = rest.range(of: marker, options: .backwards) {
            markerFound = true
            answer = String(rest[found.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            markerFound = false
            answer = String(rest).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
