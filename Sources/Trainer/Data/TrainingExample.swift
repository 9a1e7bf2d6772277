import MedtuneCore
import Records

/// What training needs of a tokenizer: plain encoding (no special tokens added), the EOS id,
/// and the BOS id when the model's tokenizer starts every text with one.
public protocol TrainingTokenizer {
    func encode(_ text: String) throws -> [Int32]
    var eosTokenID: Int32 { get }
    var bosTokenID: Int32? { get }
}

extension TrainingTokenizer {
    public var bosTokenID: Int32? { nil }
}

/// One tokenized record: its tokens and, aligned with them, the token each position must predict
/// (`CrossEntropy.ignoreIndex` where the loss does not look).
public struct TrainingExample: Equatable, Sendable {
    /// The record's position in the data file.
    public var recordIndex: Int
    public var tokens: [Int32]
    /// labels[i] is tokens[i + 1] when that token is trained on; the last label is always ignored.
    public var labels: [Int32]
    /// Whether max_length cut the record short.
    public var truncated: Bool

    /// Builds an example from consecutive pieces, each tokenized on its own and marked as counted
    /// by the loss or not, so that the loss boundary falls exactly between pieces.
    public init(recordIndex: Int, pieces: [(tokens: [Int32], counted: Bool)], maxLength: Int) {
        var tokens: [Int32] = [], counted: [Bool] = []
        for piece in pieces {
            tokens += piece.tokens
            counted += Array(repeating: piece.counted, count: piece.tokens.count)
        }
        truncated = tokens.count > maxLength
        if truncated {
            tokens.removeLast(tokens.count - maxLength)
            counted.removeLast(counted.count - maxLength)
        }
        self.recordIndex = recordIndex
        self.tokens = tokens
        labels = tokens.indices.map { i in
            i + 1 < tokens.count && counted[i + 1] ? tokens[i + 1] : CrossEntropy.ignoreIndex
        }
    }

    /// Tokens the loss counts.
    public var labelCount: Int { labels.reduce(0) { $0 + ($1 == CrossEntropy.ignoreIndex ? 0 : 1) } }
}

/// Turns records into training examples as the configuration says: which fields, which
/// templates, what the loss covers, EOS, truncation.
public struct ExampleBuilder {
    public enum Shape: Equatable, Sendable {
        case template(prompt: RecordTemplate, analysis: RecordTemplate, answer: RecordTemplate)
        case text(field: String)
    }

    public let shape: Shape
    let fields: [String: String]
    let lossOn: TrainingConfig.LossScope
    let addEOS: Bool
    let maxLength: Int
    let file: String

    /// Resolves `format: auto` from the first record and checks that every placeholder names a key
    /// that at least one record has (a misspelt field is a template error, not a data error).
    public init(config: TrainingConfig, records: [SourceRecord], file: String) throws {
        self.file = file
        fields = config.fields; lossOn = config.lossOn; addEOS = config.addEOS; maxLength = config.maxLength
        let prompt = try RecordTemplate(config.promptTemplate)
        let analysis = try RecordTemplate(config.analysisTemplate)
        let answer = try RecordTemplate(config.answerTemplate)
        var format = config.format
        if format == .auto {
            let first = records.first?.values ?? [:]
            let leading = prompt.fields.first.map { config.fields[$0] ?? $0 }
            format = first[config.textField] != nil && leading.map({ first[$0] == nil }) ?? true ? .text : .template
        }
        let known = Set(records.flatMap { $0.values.keys })
        let hint = known.sorted().joined(separator: ", ")
        switch format {
        case .text:
            guard known.contains(config.textField) else {
                throw InputError(file: file, "no record has the text field '\(config.textField)' (fields: \(hint))")
            }
            shape = .text(field: config.textField)
        default:
            for (key, template) in [(TrainingConfig.CodingKeys.promptTemplate, prompt), (.analysisTemplate, analysis), (.answerTemplate, answer)] {
                for placeholder in template.fields {
                    let field = config.fields[placeholder] ?? placeholder
                    guard known.contains(field) else {
                        throw InputError(at: "key \(key.rawValue)", "the template names field {\(placeholder)}, which no record in \(file) has (fields: \(hint))")
                    }
                }
            }
            shape = .template(prompt: prompt, analysis: analysis, answer: answer)
        }
    }

    /// The example for one record; a missing or non-text field is an error naming file and line.
    public func example(_ record: SourceRecord, tokenizer: TrainingTokenizer) throws -> TrainingExample {
        func value(_ placeholder: String) throws -> String {
            let field = fields[placeholder] ?? placeholder
            if let text = record.values[field] { return text }
            let problem = record.nonText.contains(field) ? "field '\(field)' is not text" : "the record has no field '\(field)'"
            throw InputError(file: file, at: "line \(record.line)", problem)
        }
        var pieces: [(tokens: [Int32], counted: Bool)]
        switch shape {
        case .text(let field):
            pieces = [(try tokenizer.encode(try value(field)), true)]
        case .template(let prompt, let analysis, let answer):
            pieces = [
                (try tokenizer.encode(try prompt.render(value)), lossOn == .all),
                (try tokenizer.encode(try analysis.render(value)), lossOn != .answerOnly),
                (try tokenizer.encode(try answer.render(value)), true),
            ]
        }
        // A record is one text to the model: BOS (never predicted) where the tokenizer adds one.
        if let bos = tokenizer.bosTokenID { pieces.insert(([bos], false), at: 0) }
        if addEOS { pieces.append(([tokenizer.eosTokenID], true)) }
        return TrainingExample(recordIndex: record.index, pieces: pieces, maxLength: maxLength)
    }
}
