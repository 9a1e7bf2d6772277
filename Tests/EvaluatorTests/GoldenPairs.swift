import Foundation
import TestSupport

/// The candidate/reference pairs of the Evaluator golden files (scripts/golden/evaluator_pairs.py):
/// literal texts, or pointers into the medical-o1 records of ../shared/data.
struct TextRef: Decodable {
    var text: String?
    var file: String?
    var line: Int?
    var field: String?
    var chars: Int?
}

struct GoldenPair: Decodable {
    var id: String
    var candidate: TextRef
    var reference: TextRef?
    var references: [TextRef]?
}

enum GoldenText {
    private static let cache = RecordCache()

    static func resolve(_ ref: TextRef) throws -> String {
        if let text = ref.text { return text }
        guard let file = ref.file, let line = ref.line, let field = ref.field else {
            throw GoldenError("malformed text reference")
        }
        let records = try cache.records(file)
        guard line < records.count, let value = records[line][field] else { throw GoldenError("\(file) has no \(field) at line \(line)") }
        guard let chars = ref.chars else { return value }
        // Python slices strings by code point.
        return String(String.UnicodeScalarView(value.unicodeScalars.prefix(chars)))
    }

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let url = try TestPaths.require(TestPaths.golden("Evaluator/\(name)"))
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }
}

struct GoldenError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

private final class RecordCache: @unchecked Sendable {
    private var files: [String: [[String: String]]] = [:]
    private let lock = NSLock()

    func records(_ file: String) throws -> [[String: String]] {
        lock.lock()
        defer { lock.unlock() }
        if let cached = files[file] { return cached }
        let url = try TestPaths.require(TestPaths.sharedData.appendingPathComponent(file))
        let text = try String(contentsOf: url, encoding: .utf8)
        let records = try text.split(separator: "\n").map {
            try JSONDecoder().decode([String: String].self, from: Data($0.utf8))
        }
        files[file] = records
        return records
    }
}
