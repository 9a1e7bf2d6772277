import Yams

/// A recipe key's value read from its YAML node, by the rules `YAMLDecoder` reads a Codable value
/// with (Yams' scalar constructors, `null`/`~` for an absent optional), so that a recipe, a flag
/// and a saved config.yaml all mean the same thing.
protocol RecipeValue {
    init(yaml node: Node) throws(RecipeValueError)
}

/// Why a node is not a value of the key's type.
enum RecipeValueError: Error {
    /// Not a value of this type at all; the associated text names the type ("an integer").
    case expected(String)
    /// Text that is none of the key's choices.
    case notOneOf([String])

    var message: String {
        switch self {
        case .expected(let type): return "expected \(type)"
        case .notOneOf(let choices): return "invalid value (expected one of \(choices.joined(separator: ", ")))"
        }
    }
}

/// A value of one plain scalar.
protocol ScalarRecipeValue: RecipeValue, ScalarConstructible {
    /// The type in an error message: "expected an integer".
    static var typeName: String { get }
}

extension ScalarRecipeValue {
    init(yaml node: Node) throws(RecipeValueError) {
        guard let value = node.scalar.flatMap(Self.construct) else { throw .expected(Self.typeName) }
        self = value
    }
}

extension String: ScalarRecipeValue { static var typeName: String { "a string" } }
extension Int: ScalarRecipeValue { static var typeName: String { "an integer" } }
extension UInt64: ScalarRecipeValue { static var typeName: String { "an integer" } }
extension Double: ScalarRecipeValue { static var typeName: String { "a number" } }
extension Bool: ScalarRecipeValue { static var typeName: String { "true or false" } }

extension Optional: RecipeValue where Wrapped: RecipeValue {
    init(yaml node: Node) throws(RecipeValueError) {
        self = node.null == nil ? try Wrapped(yaml: node) : nil
    }
}

extension Array: RecipeValue where Element == String {
    init(yaml node: Node) throws(RecipeValueError) {
        guard let sequence = node.sequence else { throw .expected("a list of strings") }
        self = []
        for item in sequence {
            guard let text = item.scalar?.string else { throw .expected("a list of strings") }
            append(text)
        }
    }
}

extension Dictionary: RecipeValue where Key == String, Value == String {
    init(yaml node: Node) throws(RecipeValueError) {
        guard let mapping = node.mapping else { throw .expected("a mapping of strings") }
        self = [:]
        for (key, value) in mapping {
            guard let key = key.scalar?.string, let value = value.scalar?.string else { throw .expected("a mapping of strings") }
            self[key] = value
        }
    }
}

/// A key with named choices (`loss_on: after_prompt`).
extension RecipeValue where Self: RawRepresentable & CaseIterable, RawValue == String {
    init(yaml node: Node) throws(RecipeValueError) {
        guard let text = node.scalar?.string else { throw .expected("a string") }
        guard let value = Self(rawValue: text) else { throw .notOneOf(Self.allCases.map(\.rawValue)) }
        self = value
    }
}

extension TrainingConfig.DataFormat: RecipeValue {}
extension TrainingConfig.LossScope: RecipeValue {}
extension TrainingConfig.OptimizerKind: RecipeValue {}
extension TrainingConfig.ScheduleKind: RecipeValue {}
extension TrainingConfig.MatmulPrecision: RecipeValue {}
