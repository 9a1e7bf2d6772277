import Foundation
import MedtuneCore
import Yams

/// One `--key value` from the command line; the key in flag form (`learning-rate`) or key form.
public struct ConfigOverride: Equatable, Sendable {
    public var key: String
    public var value: String
    public init(key: String, value: String) { self.key = key; self.value = value }

    /// Pairs `--key value`, `--key=value` and bare boolean `--key` (true) from raw arguments.
    public static func parse(_ arguments: [String]) throws -> [ConfigOverride] {
        var result: [ConfigOverride] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw InputError(at: "command line", "unexpected argument '\(argument)' (options are --key value)")
            }
            let body = argument.dropFirst(2)
            if let equals = body.firstIndex(of: "=") {
                result.append(ConfigOverride(key: String(body[..<equals]), value: String(body[body.index(after: equals)...])))
                i += 1
            } else if i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                result.append(ConfigOverride(key: String(body), value: arguments[i + 1]))
                i += 2
            } else {
                result.append(ConfigOverride(key: String(body), value: "true"))
                i += 1
            }
        }
        return result
    }
}

extension TrainingConfig {
    /// The configuration from a YAML recipe (nil: the defaults) with command-line overrides applied
    /// on top, checked. Keys missing from the recipe keep their defaults; an unknown key, a value
    /// of the wrong type or an out-of-range value is an error naming the key and where it came from.
    public static func resolve(yaml: String?, source: String = "config", overrides: [ConfigOverride] = []) throws -> TrainingConfig {
        var merged = try defaultMapping()
        if let yaml {
            let node: Node?
            do { node = try Yams.compose(yaml: yaml) } catch {
                throw InputError(file: source, "not valid YAML: \(error)")
            }
            if let node {
                guard let mapping = node.mapping else { throw InputError(file: source, "expected a mapping of keys to values") }
                for (key, value) in mapping {
                    let name = key.string ?? ""
                    try checkKnown(name, file: source, at: key.mark.map { "line \($0.line)" })
                    merged[name] = value
                }
            }
        }
        for override in overrides {
            let name = override.key.replacingOccurrences(of: "-", with: "_")
            try checkKnown(name, file: nil, at: "--\(override.key)")
            merged[name] = CodingKeys(rawValue: name).flatMap { keys[$0]?.text } == true
                ? Node(override.value, Tag(.str), .doubleQuoted)
                : try overrideNode(override.value, replacing: merged[name], flag: override.key)
        }
        // A bad value is reported where it came from: the flag when one set it, else the recipe.
        func origin(_ error: InputError) -> InputError {
            guard let key = error.location?.split(separator: " ").last,
                  let flag = overrides.last(where: { $0.key.replacingOccurrences(of: "-", with: "_") == key }) else { return error }
            return InputError(at: "--\(flag.key)", error.message)
        }
        do {
            let config: TrainingConfig
            do {
                config = try YAMLDecoder().decode(TrainingConfig.self, from: try Yams.serialize(node: .mapping(merged)))
            } catch let error as DecodingError {
                throw describe(error, source: source)
            }
            try config.validate(source: source)
            return config
        } catch let error as InputError {
            throw origin(error)
        }
    }

    /// The configuration as YAML, every key present (a resolved `config.yaml`).
    public func yaml() throws -> String {
        var mapping = try Self.defaultMapping(of: self)
        // Optional keys left unset are written as null, so the file lists every key.
        for key in CodingKeys.allCases where mapping[key.rawValue] == nil { mapping[key.rawValue] = Node("null", Tag(.null)) }
        let order = Dictionary(uniqueKeysWithValues: CodingKeys.allCases.enumerated().map { ($1.rawValue, $0) })
        let sorted = mapping.sorted { (order[$0.key.string ?? ""] ?? 0) < (order[$1.key.string ?? ""] ?? 0) }
        // Templates in Chinese stay readable and editable: UTF-8, not \u escapes.
        return try Yams.serialize(node: .mapping(Node.Mapping(sorted.map { ($0.key, $0.value) })), allowUnicode: true)
    }

    /// The value of one key as one line of YAML flow text (the default shown in help).
    public func yamlValue(_ key: CodingKeys) -> String {
        guard let mapping = try? Self.defaultMapping(of: self), let node = mapping[key.rawValue] else { return "null" }
        return Self.flow(node)
    }

    private static func flow(_ node: Node) -> String {
        if let sequence = node.sequence { return "[" + sequence.map(flow).joined(separator: ", ") + "]" }
        if let mapping = node.mapping {
            let pairs = mapping.map { "\(flow($0.key)): \(flow($0.value))" }.sorted()
            return "{" + pairs.joined(separator: ", ") + "}"
        }
        let text = node.scalar?.string ?? ""
        if text.isEmpty { return "\"\"" }
        return text.contains("\n") ? "\"" + text.replacingOccurrences(of: "\n", with: "\\n") + "\"" : text
    }

    /// Numbers as people write them (0.05, 32.0, 1.0e-08) rather than the encoder's 5e-2 and
    /// 3.2e+1, and always with a decimal point, so every YAML reader sees a float.
    private static func tidy(_ node: Node) -> Node {
        switch node {
        case .mapping(let mapping):
            return .mapping(Node.Mapping(mapping.map { ($0.key, tidy($0.value)) }, mapping.tag, mapping.style))
        case .sequence(let sequence):
            return .sequence(Node.Sequence(sequence.map(tidy), sequence.tag, sequence.style))
        case .scalar(let scalar):
            guard scalar.style == .plain || scalar.style == .any, Int(scalar.string) == nil,
                  scalar.string.contains(where: { $0 == "e" || $0 == "." }), let value = Double(scalar.string) else { return node }
            var text = "\(value)"
            if let e = text.firstIndex(of: "e"), !text.contains(".") { text.insert(contentsOf: ".0", at: e) }
            return Node(text, Tag(.float))
        default:
            return node
        }
    }

    /// Every key with its default and meaning, for `--help` and the docs.
    public static var keyReference: String {
        let defaults = TrainingConfig()
        return CodingKeys.allCases.map { key in
            "--\(key.rawValue.replacingOccurrences(of: "_", with: "-")) (\(key.rawValue), default \(defaults.yamlValue(key))): \(keys[key]?.doc ?? "")"
        }.joined(separator: "\n")
    }

    private static func defaultMapping(of config: TrainingConfig = TrainingConfig()) throws -> Node.Mapping {
        guard let mapping = try Yams.compose(yaml: YAMLEncoder().encode(config)).map(tidy)?.mapping else {
            throw SystemError("could not represent the training configuration as YAML")
        }
        return mapping
    }

    private static func checkKnown(_ name: String, file: String?, at location: String?) throws {
        guard CodingKeys(rawValue: name) == nil else { return }
        let known = CodingKeys.allCases.map(\.rawValue)
        let hint = known.min { editDistance($0, name) < editDistance($1, name) }.map { " (did you mean \($0)?)" } ?? ""
        throw InputError(file: file, at: location, "unknown key '\(name)'\(hint)")
    }

    /// A flag's text as a YAML value; for list keys, `a,b,c` is accepted as well as `[a, b, c]`.
    private static func overrideNode(_ text: String, replacing current: Node?, flag: String) throws -> Node {
        let node: Node
        do { node = try Yams.compose(yaml: text) ?? Node("null", Tag(.null)) } catch {
            throw InputError(at: "--\(flag)", "cannot read '\(text)' as a value")
        }
        if current?.sequence != nil, let scalar = node.scalar {
            let items = scalar.string.split(separator: ",").map { Node($0.trimmingCharacters(in: .whitespaces)) }
            return .sequence(Node.Sequence(items))
        }
        return node
    }

    private static func describe(_ error: DecodingError, source: String) -> InputError {
        func key(_ path: [CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return InputError(file: source, at: "key \(key(context.codingPath))", "expected \(typeName(type))")
        case .dataCorrupted(let context):
            let choices = CodingKeys(rawValue: context.codingPath.last?.stringValue ?? "").flatMap(choicesText) ?? ""
            return InputError(file: source, at: "key \(key(context.codingPath))", "invalid value\(choices)")
        case .keyNotFound(let missing, _):
            return InputError(file: source, at: "key \(missing.stringValue)", "missing")
        @unknown default:
            return InputError(file: source, "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        case is [String].Type: return "a list of strings"
        case is [String: String].Type: return "a mapping of strings"
        default: return "a value of type \(type)"
        }
    }

    private static func choicesText(_ key: CodingKeys) -> String? {
        switch key {
        case .format: return " (expected one of \(DataFormat.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .lossOn: return " (expected one of \(LossScope.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .optimizer: return " (expected one of \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .lrScheduler: return " (expected one of \(ScheduleKind.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .matmulPrecision: return " (expected one of \(MatmulPrecision.allCases.map(\.rawValue).joined(separator: ", ")))"
        default: return nil
        }
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
