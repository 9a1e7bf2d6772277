import Foundation
import MedtuneCore

/// A JSON object read from a file, whose accessors name the file and the entry in every error:
/// `tokenizer.json: model.merges[17]: expected a string`.
struct JSONFields {
    let file: String
    let path: String
    let values: [String: Any]

    /// The top-level object of a JSON file.
    static func read(_ url: URL) throws -> JSONFields {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw InputError(file: url.path, "cannot read the file (\(FileManager.default.fileExists(atPath: url.path) ? "unreadable" : "missing"))")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch let error as NSError {
            let detail = error.userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
            throw InputError(file: url.path, "malformed JSON: \(detail)")
        }
        guard let object = parsed as? [String: Any] else {
            throw InputError(file: url.path, "expected a JSON object at the top level")
        }
        return JSONFields(file: url.path, path: "", values: object)
    }

    func location(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ message: String) -> InputError {
        InputError(file: file, at: location(key), message)
    }

    func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    func object(_ key: String) throws -> JSONFields {
        guard let value = values[key] as? [String: Any] else { throw error(key, "expected an object") }
        return JSONFields(file: file, path: location(key), values: value)
    }

    func optionalObject(_ key: String) throws -> JSONFields? { has(key) ? try object(key) : nil }

    func string(_ key: String) throws -> String {
        guard let value = values[key] as? String else { throw error(key, has(key) ? "expected a string" : "missing") }
        return value
    }

    func optionalString(_ key: String) throws -> String? { has(key) ? try string(key) : nil }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard has(key) else { return fallback }
        guard let value = values[key], Self.isBoolean(value), let flag = value as? Bool else {
            throw error(key, "expected true or false")
        }
        return flag
    }

    func optionalBool(_ key: String) throws -> Bool? { has(key) ? try bool(key, default: false) : nil }

    func int(_ key: String) throws -> Int {
        guard let value = values[key], let number = Self.integer(value) else {
            throw error(key, has(key) ? "expected an integer" : "missing")
        }
        return number
    }

    func optionalInt(_ key: String) throws -> Int? { has(key) ? try int(key) : nil }

    func array(_ key: String) throws -> [Any] {
        guard let value = values[key] as? [Any] else { throw error(key, has(key) ? "expected an array" : "missing") }
        return value
    }

    /// Objects of an array, each with its index in the path.
    func objects(_ key: String) throws -> [JSONFields] {
        try array(key).enumerated().map { index, element in
            guard let object = element as? [String: Any] else { throw error("\(key)[\(index)]", "expected an object") }
            return JSONFields(file: file, path: location("\(key)[\(index)]"), values: object)
        }
    }

    /// JSONSerialization hands out numbers and booleans as NSNumber, either of which casts to
    /// both Int and Bool; only the boolean's class says which it was.
    static func isBoolean(_ value: Any) -> Bool {
        type(of: value) == Bool.self || String(describing: type(of: value)).contains("Boolean")
    }

    static func integer(_ value: Any) -> Int? {
        if isBoolean(value) { return nil }
        if let number = value as? Int { return number }
        if let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded(),
           abs(number.doubleValue) < 1e15 {
            return number.intValue
        }
        return nil
    }
}
