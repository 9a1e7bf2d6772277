import Foundation
import MedtuneCore
import ModelFiles

/// A JSON object read from a file, whose accessors name the file and the entry in every error:
/// `tokenizer.json: model.merges[17]: expected a string`.
struct JSONFields {
    let file: String
    let path: String
    let members: [(key: String, value: JSONValue)]

    /// The top-level object of a JSON file. Parse errors name the byte where the text goes wrong.
    static func read(_ url: URL) throws -> JSONFields {
        guard FileManager.default.fileExists(atPath: url.path) else { throw InputError(file: url.path, "no such file") }
        guard let members = try JSONValue.parse(contentsOf: url.path).members else {
            throw InputError(file: url.path, "expected a JSON object at the top level")
        }
        return JSONFields(file: url.path, path: "", members: members)
    }

    func location(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ message: String) -> InputError {
        InputError(file: file, at: location(key), message)
    }

    /// The member's value; nil when it is absent or null.
    func value(_ key: String) -> JSONValue? {
        guard let value = members.first(where: { $0.key == key })?.value, value != .null else { return nil }
        return value
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func object(_ key: String) throws -> JSONFields {
        guard let members = value(key)?.members else { throw error(key, has(key) ? "expected an object" : "missing") }
        return JSONFields(file: file, path: location(key), members: members)
    }

    func optionalObject(_ key: String) throws -> JSONFields? { has(key) ? try object(key) : nil }

    func string(_ key: String) throws -> String {
        guard let value = value(key)?.string else { throw error(key, has(key) ? "expected a string" : "missing") }
        return value
    }

    func optionalString(_ key: String) throws -> String? { has(key) ? try string(key) : nil }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let found = value(key) else { return fallback }
        guard let flag = found.bool else { throw error(key, "expected true or false") }
        return flag
    }

    func optionalBool(_ key: String) throws -> Bool? { has(key) ? try bool(key, default: false) : nil }

    func int(_ key: String) throws -> Int {
        guard let value = value(key)?.int else { throw error(key, has(key) ? "expected an integer" : "missing") }
        return value
    }

    func optionalInt(_ key: String) throws -> Int? { has(key) ? try int(key) : nil }

    func array(_ key: String) throws -> [JSONValue] {
        guard let value = value(key)?.array else { throw error(key, has(key) ? "expected an array" : "missing") }
        return value
    }

    /// Objects of an array, each with its index in the path.
    func objects(_ key: String) throws -> [JSONFields] {
        try array(key).enumerated().map { index, element in
            guard let members = element.members else { throw error("\(key)[\(index)]", "expected an object") }
            return JSONFields(file: file, path: location("\(key)[\(index)]"), members: members)
        }
    }
}
