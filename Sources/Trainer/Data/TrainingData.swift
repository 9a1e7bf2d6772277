import MedtuneCore
import Records

/// The training and validation examples of a run, and what happened to the records on the way.
public struct TrainingData: Sendable {
    public var train: [TrainingExample]
    public var validation: [TrainingExample]
    /// Data-file positions of the validation records, ascending (written as heldout_ids.json).
    public var heldOutIndices: [Int]
    public var format: ExampleBuilder.Shape
    /// Records after offset/limit.
    public var selected: Int
    /// Records skipped for a missing or non-text field (skip_invalid).
    public var skippedInvalid: Int
    /// Records cut to max_length.
    public var truncated: Int
    /// Records left with no trained token (e.g. a prompt longer than max_length with answer_only).
    public var droppedEmpty: Int

    /// Reads, selects, tokenizes and splits the records of `file` as `config` says.
    public static func load(_ file: String, config: TrainingConfig, tokenizer: TrainingTokenizer) throws -> TrainingData {
        try prepare(RecordFile.load(file), file: file, config: config, tokenizer: tokenizer)
    }

    public static func prepare(_ records: [SourceRecord], file: String, config: TrainingConfig,
                               tokenizer: TrainingTokenizer) throws -> TrainingData {
        if records.isEmpty { throw InputError(file: file, "the dataset has no records") }
        guard config.offset < records.count else {
            throw InputError(file: file, "offset \(config.offset) skips all \(records.count) records")
        }
        let end = config.limit.map { min(records.count, config.offset + $0) } ?? records.count
        let selected = Array(records[config.offset..<end])
        let builder = try ExampleBuilder(config: config, records: selected, file: file)

        var examples: [TrainingExample] = [], skipped = 0, truncated = 0, empty = 0
        for record in selected {
            let example: TrainingExample
            do {
                example = try builder.example(record, tokenizer: tokenizer)
            } catch let error as InputError where config.skipInvalid && error.file == file {
                skipped += 1
                continue
            }
            if example.truncated { truncated += 1 }
            if example.labelCount == 0 { empty += 1; continue }
            examples.append(example)
        }
        if examples.isEmpty {
            throw InputError(file: file, "no usable records (\(selected.count) selected, \(skipped) invalid, \(empty) with nothing to train on)")
        }

        let held = config.validationCount > 0 ? config.validationCount
            : Int((Double(examples.count) * config.validationFraction).rounded(.up))
        guard held < examples.count else {
            throw InputError(at: "key validation_\(config.validationCount > 0 ? "count" : "fraction")",
                             "holds out \(held) of \(examples.count) usable records, leaving none to train on")
        }
        var order = Array(examples.indices)
        var rng = SplitMix64(seed: config.seed ^ 0x5EED_0F_5917)
        order.seededShuffle(using: &rng)
        let heldSet = Set(order.prefix(held))
        let validation = examples.indices.filter { heldSet.contains($0) }.map { examples[$0] }
        let train = examples.indices.filter { !heldSet.contains($0) }.map { examples[$0] }
        return TrainingData(train: train, validation: validation, heldOutIndices: validation.map(\.recordIndex),
                            format: builder.shape, selected: selected.count, skippedInvalid: skipped,
                            truncated: truncated, droppedEmpty: empty)
    }

    /// One line for the log.
    public var summary: String {
        let kind: String
        switch format {
        case .text: kind = "raw text"
        case .template: kind = "templated"
        }
        var parts = ["\(selected) \(kind) records", "\(train.count) for training", "\(validation.count) for validation"]
        if truncated > 0 { parts.append("\(truncated) truncated to max_length") }
        if skippedInvalid > 0 { parts.append("\(skippedInvalid) skipped as invalid") }
        if droppedEmpty > 0 { parts.append("\(droppedEmpty) dropped with no trained token") }
        return parts.joined(separator: ", ")
    }
}

extension Array {
    /// Fisher–Yates with SplitMix64, so that an order is reproducible from its seed on any platform
    /// (Swift's own shuffle does not promise a fixed algorithm).
    mutating func seededShuffle(using rng: inout SplitMix64) {
        guard count > 1 else { return }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            swapAt(i, j)
        }
    }
}

extension TrainingData {
    /// Examples tokenized elsewhere (a benchmark's random tokens), none held out or skipped.
    public init(train: [TrainingExample], format: ExampleBuilder.Shape) {
        self.init(train: train, validation: [], heldOutIndices: [], format: format, selected: train.count,
                  skippedInvalid: 0, truncated: 0, droppedEmpty: 0)
    }
}
