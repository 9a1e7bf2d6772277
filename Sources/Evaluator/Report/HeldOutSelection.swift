import Foundation
import MedtuneCore
import Records

/// Which records of a data file to evaluate an adapter on: by default the records its training run
/// kept out of training (`HeldOutRecords`). Evaluating on those measures generalisation;
/// evaluating on training records mostly measures memorisation, so that draws a warning.
public struct HeldOutSelection: Equatable, Sendable {
    public var records: [Int]
    public var warnings: [String]

    /// `requested` (explicit record indices) wins over `limit` (the first held-out records).
    public init(recordCount: Int, adapterDirectory: String?, limit: Int, requested: [Int]? = nil) throws {
        guard limit > 0 else { throw InputError(at: "--limit", "must be at least 1") }
        if let bad = requested?.first(where: { !(0..<recordCount).contains($0) }) {
            throw InputError(at: "--records", "record \(bad) is outside the data file's 0...\(recordCount - 1)")
        }
        // A record given twice would count twice in every mean and in the paired test.
        if let requested, let twice = requested.enumerated().first(where: { requested[..<$0.offset].contains($0.element) }) {
            throw InputError(at: "--records", "record \(twice.element) is given twice")
        }
        warnings = []
        let heldOut = try adapterDirectory.flatMap { try HeldOutRecords.read(besideAdapter: $0, recordCount: recordCount) }
        if let heldOut, heldOut.indices.isEmpty, requested == nil {
            throw InputError(file: heldOut.path, "holds no record: the run kept none out of training (train with validation_count), so nothing can be scored without --records")
        }
        switch (heldOut?.indices, requested) {
        case let (heldOut?, requested?):
            records = requested
            let trained = requested.filter { !Set(heldOut).contains($0) }
            if !trained.isEmpty {
                warnings.append("records \(trained.map(String.init).joined(separator: ", ")) were used to train the adapter; "
                                + "their scores measure memorisation, not generalisation")
            }
        case let (heldOut?, nil):
            records = Array(heldOut.prefix(limit))
            if heldOut.count < limit {
                warnings.append("only \(heldOut.count) held-out records exist; scoring those instead of \(limit)")
            }
        case let (nil, requested?):
            records = requested
            warnings.append("no \(HeldOutRecords.fileName) beside the adapter: cannot tell whether these records were trained on")
        case (nil, nil):
            records = Array(0..<min(limit, recordCount))
            warnings.append("no \(HeldOutRecords.fileName) beside the adapter: scoring the first \(records.count) records, "
                            + "which may have been trained on")
        }
    }
}
