/// A contiguous, row-major, 64-byte-aligned block of scalars with a shape.
///
/// A class so that large activations and gradients are shared, never copied by accident; the
/// buffer is freed with the tensor. Operations take raw buffers, so a tensor is only storage.
public final class Tensor<T: Scalar>: @unchecked Sendable {
    public let shape: [Int]
    public let buffer: UnsafeMutableBufferPointer<T>

    /// A zero-filled tensor.
    public init(_ shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        let count = shape.reduce(1, *)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<T>.stride, alignment: 64)
        let typed = raw.bindMemory(to: T.self, capacity: max(count, 1))
        typed.initialize(repeating: 0, count: max(count, 1))
        buffer = UnsafeMutableBufferPointer(start: typed, count: count)
    }

    public convenience init(_ shape: [Int], _ values: [T]) {
        self.init(shape)
        precondition(values.count == buffer.count, "\(values.count) values for shape \(shape)")
        _ = buffer.initialize(from: values)
    }

    deinit { UnsafeMutableRawPointer(buffer.baseAddress!).deallocate() }

    public var count: Int { buffer.count }
    public var pointer: UnsafeMutablePointer<T> { buffer.baseAddress! }
    public var array: [T] { Array(buffer) }

    public subscript(index: Int) -> T {
        get { buffer[index] }
        set { buffer[index] = newValue }
    }

    public func fill(_ value: T) { buffer.update(repeating: value) }

    public func copy() -> Tensor<T> {
        let result = Tensor(shape)
        result.pointer.update(from: pointer, count: count)
        return result
    }
}
