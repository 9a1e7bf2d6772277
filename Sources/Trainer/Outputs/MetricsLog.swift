import Foundation
import MedtuneCore

/// One line of metrics.jsonl: a logged training loss, a validation loss, or both.
public struct MetricsRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var epoch: Double
    public var loss: Double?
    public var learningRate: Double?
    public var gradNorm: Double?
    public var tokensPerSecond: Double?
    public var valLoss: Double?
    /// Set on the evaluation after which early stopping ended the run.
    public var earlyStop: Bool?

    public init(step: Int, epoch: Double, loss: Double? = nil, learningRate: Double? = nil, gradNorm: Double? = nil,
                tokensPerSecond: Double? = nil, valLoss: Double? = nil, earlyStop: Bool? = nil) {
        self.step = step; self.epoch = epoch; self.loss = loss; self.learningRate = learningRate
        self.gradNorm = gradNorm; self.tokensPerSecond = tokensPerSecond; self.valLoss = valLoss; self.earlyStop = earlyStop
    }

    enum CodingKeys: String, CodingKey {
        case step, epoch, loss
        case learningRate = "learning_rate"
        case gradNorm = "grad_norm"
        case tokensPerSecond = "tokens_per_second"
        case valLoss = "val_loss"
        case earlyStop = "early_stop"
    }
}

/// metrics.jsonl: appended a line at a time, so that whatever happens the lines written stay.
public final class MetricsLog {
    public let path: String
    public private(set) var records: [MetricsRecord]
    /// A last line cut short (the process was killed while appending it), dropped on opening.
    public private(set) var droppedTornLine: Int?

    /// Opens (or creates) the log; with `keepThrough`, lines after that step are dropped first
    /// (a resumed run rewrites them from its checkpoint on).
    public init(path: String, keepThrough step: Int? = nil) throws {
        self.path = path
        var records: [MetricsRecord] = []
        if let data = FileManager.default.contents(atPath: path) {
            (records, droppedTornLine) = try Self.records(in: data, file: path)
        }
        if let step { records.removeAll { $0.step > step } }
        self.records = records
        try AtomicFile.write(Data(records.map(Self.line).joined().utf8), to: path)
    }

    /// The records of an existing log, read without changing it (to draw a finished run's curve).
    public static func read(_ path: String) throws -> [MetricsRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError(file: path, "no metrics log here") }
        return try records(in: data, file: path).records
    }

    /// Every line's record. Every line is written with its newline in one append, so only a
    /// final line without one can be torn (its number is returned); anything else is damage the
    /// user should see.
    static func records(in data: Data, file path: String) throws -> (records: [MetricsRecord], tornLine: Int?) {
        var records: [MetricsRecord] = [], torn: Int?
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (i, line) in lines.enumerated() where !line.isEmpty {
            do { records.append(try JSONDecoder().decode(MetricsRecord.self, from: Data(line))) } catch {
                guard i == lines.count - 1 else { throw InputError(file: path, at: "line \(i + 1)", "not a metrics record") }
                torn = i + 1
            }
        }
        return (records, torn)
    }

    public func append(_ record: MetricsRecord) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else { throw SystemError("\(path): cannot open for appending") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(Self.line(record).utf8))
        records.append(record)
    }

    static func line(_ record: MetricsRecord) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(record)) ?? Data(), as: UTF8.self) + "\n"
    }
}
