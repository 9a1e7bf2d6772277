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
    ///
    /// The recipe's values and the flags' are merged first (a flag wins), and each key's winning
    /// value is then read once into its property: a recipe value that a flag replaces is never read.
    public static func resolve(yaml: String?, source: String = "config", overrides: [ConfigOverride] = []) throws -> TrainingConfig {
        /// Each key's value, and the flag that gave it (nil: the recipe).
        var chosen: [CodingKeys: (value: Node, flag: String?)] = [:]
        if let yaml {
            let node: Node?
            do { node = try Yams.compose(yaml: yaml) } catch {
                throw InputError(file: source, "not valid YAML: \(error)")
            }
            if let node {
                guard let mapping = node.mapping else { throw InputError(file: source, "expected a mapping of keys to values") }
                for (key, value) in mapping {
                    let name = try known(key.string ?? "", file: source, at: key.mark.map { "line \($0.line)" })
                    chosen[name] = (value, nil)
                }
            }
        }
        for override in overrides {
            let key = try known(override.key.replacingOccurrences(of: "-", with: "_"), file: nil, at: "--\(override.key)")
            let row = row(key)
            chosen[key] = (row.text ? Node(override.value, Tag(.str)) : try flagNode(override.value, list: row.isList, flag: override.key),
                           override.key)
        }
        var config = TrainingConfig()
        for key in CodingKeys.allCases {
            guard let (value, flag) = chosen[key] else { continue }
            do throws(RecipeValueError) {
                try row(key).assign(&config, value)
            } catch {
                throw flag.map { InputError(at: "--\($0)", error.message) } ?? InputError(file: source, at: "key \(key.rawValue)", error.message)
            }
        }
        do {
            try config.validate(source: source)
        } catch let error as InputError {
            // A bad value is reported where it came from: the flag when one set it, else the recipe.
            guard let name = error.location?.split(separator: " ").last, let key = CodingKeys(rawValue: String(name)),
                  let flag = chosen[key]?.flag else { throw error }
            throw InputError(at: "--\(flag)", error.message)
        }
        return config
    }

    /// The configuration as YAML, every key present (a resolved `config.yaml`).
    public func yaml() throws -> String {
        var mapping = try Self.yamlMapping(of: self)
        // Optional keys left unset are written as null, so the file lists every key.
        for key in CodingKeys.allCases where mapping[key.rawValue] == nil { mapping[key.rawValue] = Node("null", Tag(.null)) }
        let order = Dictionary(uniqueKeysWithValues: CodingKeys.allCases.enumerated().map { ($1.rawValue, $0) })
        let sorted = mapping.sorted { (order[$0.key.string ?? ""] ?? 0) < (order[$1.key.string ?? ""] ?? 0) }
        // Templates in Chinese stay readable and editable: UTF-8, not \u escapes.
        return try Yams.serialize(node: .mapping(Node.Mapping(sorted.map { ($0.key, $0.value) })), allowUnicode: true)
    }

    /// The value of one key as one line of YAML flow text (the default shown in help).
    public func yamlValue(_ key: CodingKeys) -> String {
        guard let mapping = try? Self.yamlMapping(of: self), let node = mapping[key.rawValue] else { return "null" }
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

    private static func yamlMapping(of config: TrainingConfig) throws -> Node.Mapping {
        guard let mapping = try Yams.compose(yaml: YAMLEncoder().encode(config)).map(tidy)?.mapping else {
            throw SystemError("could not represent the training configuration as YAML")
        }
        return mapping
    }

    /// The key named `name`, or an error suggesting the nearest one.
    private static func known(_ name: String, file: String?, at location: String?) throws -> CodingKeys {
        if let key = CodingKeys(rawValue: name) { return key }
        let known = CodingKeys.allCases.map(\.rawValue)
        let hint = known.min { editDistance($0, name) < editDistance($1, name) }.map { " (did you mean \($0)?)" } ?? ""
        throw InputError(file: file, at: location, "unknown key '\(name)'\(hint)")
    }

    /// A flag's text as a YAML value; for list keys, `a,b,c` is accepted as well as `[a, b, c]`.
    private static func flagNode(_ text: String, list: Bool, flag: String) throws -> Node {
        let node: Node
        do { node = try Yams.compose(yaml: text) ?? Node("null", Tag(.null)) } catch {
            throw InputError(at: "--\(flag)", "cannot read '\(text)' as a value")
        }
        if list, let scalar = node.scalar {
            let items = scalar.string.split(separator: ",").map { Node($0.trimmingCharacters(in: .whitespaces)) }
            return .sequence(Node.Sequence(items))
        }
        return node
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
