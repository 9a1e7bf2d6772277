import Foundation
import MedtuneCore

/// One record of a data file: its text fields and where it is, so that every later complaint can
/// name the file and line.
public struct SourceRecord: Equatable, Sendable {
    /// Position among the file's records, from 0.
    public var index: Int
    /// Line of the file where the record starts, from 1.
    public var line: Int
    /// Text fields (numbers as their decimal text).
    public var values: [String: String]
    /// Fields holding a non-empty array of strings (several references to one answer).
    public var lists: [String: [String]]
    /// Keys whose values are neither text nor a list of strings (null, objects, mixed arrays).
    public var nonText: Set<String>

    public init(index: Int, line: Int, values: [String: String], lists: [String: [String]] = [:], nonText: Set<String> = []) {
        self.index = index; self.line = line; self.values = values; self.lists = lists; self.nonText = nonText
    }

    /// The text of `field`, or an error naming the file and the record's line.
    public func text(_ field: String, file: String) throws -> String {
        if let value = values[field] { return value }
        let problem = lists[field] != nil || nonText.contains(field) ? "field \"\(field)\" is not text" : "has no field \"\(field)\""
        throw InputError(file: file, at: "line \(line)", problem)
    }

    /// `field` as one or several texts (a string, or an array of strings).
    public func texts(_ field: String, file: String) throws -> [String] {
        if let list = lists[field] { return list }
        if let value = values[field] { return [value] }
        guard nonText.contains(field) else { throw InputError(file: file, at: "line \(line)", "has no field \"\(field)\"") }
        throw InputError(file: file, at: "line \(line)", "field \"\(field)\" must be a string or a non-empty array of strings")
    }
}

/// Reads records from a JSON array of objects or a JSONL file (one object per line), for every
/// command that reads data: training records, questions to compare, pairs to score.
public enum RecordFile {
    public static func load(_ path: String) throws -> [SourceRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError(file: path, "cannot read the data file")
        }
        return try parse([UInt8](data), file: path)
    }

    public static func parse(_ bytes: [UInt8], file: String) throws -> [SourceRecord] {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        var scanner = Scanner(bytes: bytes, position: start, file: file)
        scanner.skipSpace()
        if scanner.peek == UInt8(ascii: "[") { return try scanner.array() }
        return try lines(bytes, from: start, file: file)
    }

    /// JSONL: each non-blank line is one object.
    private static func lines(_ bytes: [UInt8], from start: Int, file: String) throws -> [SourceRecord] {
        var records: [SourceRecord] = []
        var lineStart = start, lineNumber = 1
        while lineStart < bytes.count {
            let end = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let line = bytes[lineStart..<end]
            if line.contains(where: { !isSpace($0) }) {
                records.append(try record(line, index: records.count, line: lineNumber, file: file))
            }
            lineStart = end + 1
            lineNumber += 1
        }
        return records
    }

    static func record(_ bytes: ArraySlice<UInt8>, index: Int, line: Int, file: String) throws -> SourceRecord {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw InputError(file: file, at: "line \(line)", "malformed JSON" + (reason.map { ": \($0)" } ?? ""))
        }
        guard let dictionary = object as? [String: Any] else {
            throw InputError(file: file, at: "line \(line)", "expected a JSON object (a record with named fields)")
        }
        var values: [String: String] = [:], lists: [String: [String]] = [:], nonText: Set<String> = []
        for (key, value) in dictionary {
            switch value {
            case let text as String: values[key] = text
            case let number as NSNumber: values[key] = number.stringValue
            case let array as [Any] where !array.isEmpty && array.allSatisfy({ $0 is String }): lists[key] = array.compactMap { $0 as? String }
            default: nonText.insert(key)
            }
        }
        return SourceRecord(index: index, line: line, values: values, lists: lists, nonText: nonText)
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Splits a top-level JSON array into its elements without parsing them, tracking lines, so
    /// that each element is parsed on its own and reported at the line where it starts.
    private struct Scanner {
        let bytes: [UInt8]
        var position: Int
        let file: String
        var line = 1

        init(bytes: [UInt8], position: Int, file: String) {
            self.bytes = bytes; self.position = position; self.file = file
        }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func advance() {
            if bytes[position] == UInt8(ascii: "\n") { line += 1 }
            position += 1
        }

        mutating func skipSpace() {
            while let b = peek, isSpace(b) { advance() }
        }

        func error(_ message: String) -> InputError { InputError(file: file, at: "line \(line)", message) }

        mutating func array() throws -> [SourceRecord] {
            advance()  // [
            var records: [SourceRecord] = []
            skipSpace()
            if peek == UInt8(ascii: "]") { advance(); return try end(records) }
            while true {
                skipSpace()
                let start = position, startLine = line
                try skipValue()
                records.append(try RecordFile.record(bytes[start..<position], index: records.count, line: startLine, file: file))
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): advance()
                case UInt8(ascii: "]"): advance(); return try end(records)
                case nil: throw error("unexpected end of file inside the top-level array (missing ']')")
                default: throw error("malformed JSON: expected ',' or ']' after a record")
                }
            }
        }

        mutating func end(_ records: [SourceRecord]) throws -> [SourceRecord] {
            skipSpace()
            if peek != nil { throw error("malformed JSON: unexpected text after the top-level array") }
            return records
        }

        /// Moves past one JSON value: a string, a bracketed object/array, or a bare scalar.
        mutating func skipValue() throws {
            guard let first = peek else { throw error("unexpected end of file (expected a record)") }
            if first == UInt8(ascii: "\"") { return try skipString() }
            if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                var depth = 0
                repeat {
                    guard let b = peek else { throw error("unexpected end of file inside a record (unclosed '{' or '[')") }
                    if b == UInt8(ascii: "\"") { try skipString(); continue }
                    if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
                    if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") { depth -= 1 }
                    advance()
                } while depth > 0
                return
            }
            while let b = peek, !isSpace(b), b != UInt8(ascii: ","), b != UInt8(ascii: "]") { advance() }
        }

        mutating func skipString() throws {
            let startLine = line
            advance()  // opening quote
            while let b = peek {
                advance()
                if b == UInt8(ascii: "\\") {
                    guard peek != nil else { break }
                    advance()
                } else if b == UInt8(ascii: "\"") {
                    return
                }
            }
            throw InputError(file: file, at: "line \(startLine)", "unterminated string")
        }
    }
}
