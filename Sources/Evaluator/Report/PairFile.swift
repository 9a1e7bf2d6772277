import Foundation
import MedtuneCore
import Records

/// Candidate/reference pairs to score: `candidate` a string, `reference` a string or a non-empty
/// array of strings (several references).
public struct PairFile: Sendable {
    public var lines: [Int]
    public var candidates: [String]
    public var references: [[String]]

    public init(path: String, candidateField: String = "candidate", referenceField: String = "reference") throws {
        lines = []
        candidates = []
        references = []
        for record in try RecordFile.load(path) {
            candidates.append(try record.text(candidateField, file: path))
            references.append(try record.texts(referenceField, file: path))
            lines.append(record.line)
        }
        guard !candidates.isEmpty else { throw InputError(file: path, "holds no pairs") }
    }
}
