import CUDA

/// Where a GPU training pass spends its time, part by part (`bench train --device cuda
/// --profile`). Each part is bracketed by device synchronisations, so a profiled pass runs
/// slower than a plain one; what it tells is each part's share.
public final class PassProfile {
    public struct Part {
        public var name: String
        public var seconds: Double
        public var calls: Int
    }

    /// The parts in the order they first ran.
    public private(set) var parts: [Part] = []
    private var positions: [String: Int] = [:]

    public init() {}

    public var seconds: Double { parts.reduce(0) { $0 + $1.seconds } }

    /// Runs `body` as (part of) `name`, timed from an idle device to an idle device. Parts do
    /// not nest.
    func measure<T>(_ name: String, on device: CUDADevice, _ body: () throws -> T) throws -> T {
        let (result, seconds) = try device.timed(body)
        if let position = positions[name] {
            parts[position].seconds += seconds
            parts[position].calls += 1
        } else {
            positions[name] = parts.count
            parts.append(Part(name: name, seconds: seconds, calls: 1))
        }
        return result
    }
}
