/// A directory entry: what a file says about one tensor, known without touching its data.
public struct TensorEntry: Sendable, Equatable {
    public let name: String
    public let type: StorageType
    /// Row-major, outermost first.
    public let shape: [Int]
    public let byteCount: Int
    /// Whether the file holds all of the tensor's bytes (false past the end of a partial file).
    public let isComplete: Bool
    /// The file that holds it.
    public let file: String

    public var elementCount: Int { shape.reduce(1, *) }
}

/// Anything that holds named tensors: a GGUF file, a safetensors file, a sharded folder.
public protocol TensorSource: AnyObject, Sendable {
    /// Every tensor, in file order.
    var tensorEntries: [TensorEntry] { get }
    /// The named tensor, its bytes mapped; an error when absent or incomplete.
    func tensor(named name: String) throws -> StoredTensor
}

extension GGUFFile: TensorSource {
    public var tensorEntries: [TensorEntry] {
        tensors.map { TensorEntry(name: $0.name, type: $0.type, shape: $0.shape, byteCount: $0.byteCount, isComplete: isComplete($0), file: path) }
    }
}
