import Foundation
import MedtuneCore

/// Records of a JSON Lines file (one object per line; blank lines skipped) or of a JSON file
/// holding an array of objects, with the 1-based line each record starts on.
public enum JSONRecords {
    public static func read(_ path: String) throws -> [(line: Int, record: [String: Any])] {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw InputError(file: path, "cannot read: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw InputError(file: path, "is not UTF-8 text") }
        if text.drop(while: { $0.isWhitespace }).first == "[" {
            guard let array = try? JSONSerialization.jsonObject(with: data) as? [Any] else {
                throw InputError(file: path, "starts like a JSON array but is not valid JSON")
            }
            return try array.enumerated().map { index, element in
                guard let object = element as? [String: Any] else {
                    throw InputError(file: path, at: "record \(index + 1)", "is not a JSON object")
                }
                return (index + 1, object)
            }
        }
        var records: [(line: Int, record: [String: Any])] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy(\.isWhitespace) { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw InputError(file: path, at: "line \(index + 1)", "is not a JSON object")
            }
            records.append((index + 1, object))
        }
        return records
    }

    /// `record[field]` as a string, or an error naming the file and line.
    public static func string(_ record: [String: Any], _ field: String, file: String, line: Int) throws -> String {
        guard let value = record[field] else { throw InputError(file: file, at: "line \(line)", "has no field \"\(field)\"") }
        guard let text = value as? String else { throw InputError(file: file, at: "line \(line)", "field \"\(field)\" is not a string") }
        return text
    }
}

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
        for (line, record) in try JSONRecords.read(path) {
            candidates.append(try JSONRecords.string(record, candidateField, file: path, line: line))
            switch record[referenceField] {
            case let text as String:
                references.append([text])
            case let many as [Any] where !many.isEmpty && many.allSatisfy({ $0 is String }):
                references.append(many.compactMap { $0 as? String })
            case nil:
                throw InputError(file: path, at: "line \(line)", "has no field \"\(referenceField)\"")
            default:
                throw InputError(file: path, at: "line \(line)", "field \"\(referenceField)\" must be a string or a non-empty array of strings")
            }
            lines.append(line)
        }
        guard !candidates.isEmpty else { throw InputError(file: path, "holds no pairs") }
    }
}
