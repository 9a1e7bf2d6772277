import Dispatch
import MedtuneCore

/// Measures the matrix–vector product of each storage type in a model: the fused decode-and-dot
/// rows against decoding the whole matrix and calling BLAS sgemv, and the blocked matrix product.
public enum WeightBenchmark {
    public struct Result: Sendable {
        public var tensor: String
        public var type: StorageType
        public var shape: [Int]
        /// Best time of one fused matrix–vector product.
        public var fusedSeconds: Double
        /// Best time of decode-everything + sgemv.
        public var decodedSeconds: Double
        /// Best time of a 64-row matrix product (decoded blocks + sgemm).
        public var matrixSeconds: Double
        public var storedBytes: Int

        public var line: String {
            let gbps = Double(storedBytes) / fusedSeconds / 1e9
            return "\(type.name.padding(toLength: 5, withPad: " ", startingAt: 0)) \(shape[0])×\(shape[1])  "
                + "fused W·x \(microseconds(fusedSeconds)) µs (\(String(format: "%.1f", gbps)) GB/s)  "
                + "decode+sgemv \(microseconds(decodedSeconds)) µs  "
                + "64-row product \(microseconds(matrixSeconds)) µs  [\(tensor)]"
        }

        private func microseconds(_ s: Double) -> String { String(format: "%.0f", s * 1e6) }
    }

    /// One result per storage type of the largest matrix of that type in `source`.
    public static func measure(_ source: TensorSource, repeats: Int = 10) throws -> [Result] {
        var largest: [StorageType: TensorEntry] = [:]
        for entry in source.tensorEntries where entry.shape.count == 2 && entry.isComplete && entry.type.isSupported {
            if entry.byteCount > largest[entry.type]?.byteCount ?? -1 { largest[entry.type] = entry }
        }
        return try largest.values.sorted { $0.type.name < $1.type.name }.map { entry in
            let w = try LinearWeight(source.tensor(named: entry.name))
            let x = (0..<(64 * w.inFeatures)).map { Float($0 % 17 - 8) / 8 }
            var y = [Float](repeating: 0, count: 64 * w.outFeatures)
            let fused = best(repeats) { w.vectorProduct(x, into: &y) }
            let decoded = best(repeats) { w.decodedVectorProduct(x, into: &y) }
            let matrix = best(max(2, repeats / 4)) { w.product(x, rows: 64, into: &y) }
            return Result(tensor: entry.name, type: entry.type, shape: entry.shape, fusedSeconds: fused,
                          decodedSeconds: decoded, matrixSeconds: matrix, storedBytes: entry.byteCount)
        }
    }

    /// Best of `repeats` timings after one warm-up run.
    private static func best(_ repeats: Int, _ body: () -> Void) -> Double {
        body()
        var result = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            result = min(result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return result
    }
}
