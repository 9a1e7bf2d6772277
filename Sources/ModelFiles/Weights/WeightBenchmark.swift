import Dispatch
import MedtuneCore

/// Measures the products of each storage type in a model, on the largest matrix of that type:
/// the fused matrix–vector kernel on one core with its rows in cache (the kernel's own speed) and
/// on every core over the whole matrix (what decoding pays, usually bounded by memory bandwidth),
/// a few-row product (batched decoding), and a prompt-sized product against sgemm on weights
/// decoded beforehand (its ceiling).
public enum WeightBenchmark {
    public struct Result: Sendable {
        public var tensor: String
        public var type: StorageType
        public var shape: [Int]
        public var storedBytes: Int
        /// W·x on one core over rows that fit in cache, elements per second.
        public var cachedRate: Double
        /// Best time of W·x over the whole matrix on every core.
        public var vectorSeconds: Double
        /// Best time of decode-everything + sgemv, the path the fused kernels replace.
        public var decodedSeconds: Double
        /// Best time of one product with `fewRows` input rows.
        public var fewRowsSeconds: Double
        public var fewRows: Int
        /// GFLOP/s of a `matrixRows`-row product over the leading `matrixShape` rows of W, and of
        /// sgemm over the same rows already decoded to float32.
        public var matrixGFLOPS: Double
        public var sgemmGFLOPS: Double
        public var matrixRows: Int
        public var matrixShape: [Int]

        public var lines: [String] {
            var lines = ["\(type.name) \(shape[0])×\(shape[1]) [\(tensor)]"]
            lines.append(String(format: "  W·x  1 core, rows in cache %6.2f G elements/s   all cores %8.0f µs (%5.1f GB/s)",
                                cachedRate / 1e9, vectorSeconds * 1e6, Double(storedBytes) / vectorSeconds / 1e9))
            lines.append(String(format: "  decode all + sgemv %8.0f µs   %d-row product %8.0f µs (%.0f µs/row)",
                                decodedSeconds * 1e6, fewRows, fewRowsSeconds * 1e6, fewRowsSeconds * 1e6 / Double(fewRows)))
            lines.append(String(format: "  %d-row product over %d×%d: %.1f GFLOP/s (sgemm on decoded weights %.1f GFLOP/s)",
                                matrixRows, matrixShape[0], matrixShape[1], matrixGFLOPS, sgemmGFLOPS))
            return lines
        }
    }

    /// One result per storage type of the largest matrix of that type in `source`.
    public static func measure(_ source: TensorSource, repeats: Int = 10, fewRows: Int = 4, matrixRows: Int = 512) throws -> [Result] {
        var largest: [StorageType: TensorEntry] = [:]
        for entry in source.tensorEntries where entry.shape.count == 2 && entry.isComplete && entry.type.isSupported {
            if entry.byteCount > largest[entry.type]?.byteCount ?? -1 { largest[entry.type] = entry }
        }
        return try largest.values.sorted { $0.type.name < $1.type.name }.map { entry in
            try measure(LinearWeight(source.tensor(named: entry.name)), repeats: repeats, fewRows: fewRows, matrixRows: matrixRows)
        }
    }

    static func measure(_ w: LinearWeight, repeats: Int, fewRows: Int, matrixRows: Int) throws -> Result {
        let x = (0..<(max(fewRows, matrixRows) * w.inFeatures)).map { Float($0 % 17 - 8) / 8 }
        var y = [Float](repeating: 0, count: max(fewRows, 1) * w.outFeatures)
        // About 256 KB of rows: in L2 after the first pass.
        let cachedRows = min(w.outFeatures, max(1, (1 << 18) / max(w.tensor.bytes.count / max(w.outFeatures, 1), 1)))
        let cachedSeconds = FloatInput.prepare(x, count: w.inFeatures, for: w.type) { input in
            y.withUnsafeMutableBufferPointer { y in
                best(repeats * 20) { w.vectorProduct(input, rows: 0..<cachedRows, into: y.baseAddress!, accumulate: false) }
            }
        }
        let vector = best(repeats) { w.vectorProduct(x, into: &y) }
        let decoded = best(max(2, repeats / 4)) { w.decodedVectorProduct(x, into: &y) }
        let few = best(repeats) { w.product(x, rows: fewRows, into: &y) }

        // The prompt-sized product over at most 4864 leading rows (a 0.5B MLP's width), so that a
        // vocabulary-sized matrix takes seconds, not minutes.
        let slice = try LinearWeight(w.tensor.leadingRows(min(w.outFeatures, 4864)))
        let flops = 2.0 * Double(matrixRows) * Double(slice.outFeatures) * Double(slice.inFeatures)
        var out = [Float](repeating: 0, count: matrixRows * slice.outFeatures)
        let matrix = best(2) { slice.product(x, rows: matrixRows, into: &out) }
        let dense = slice.dequantized()
        let sgemm = best(2) {
            Matmul.gemm(transB: true, m: matrixRows, n: slice.outFeatures, k: slice.inFeatures, a: x, b: dense, c: &out)
        }
        return Result(tensor: w.name, type: w.type, shape: w.shape, storedBytes: w.tensor.bytes.count,
                      cachedRate: Double(cachedRows * w.inFeatures) / cachedSeconds, vectorSeconds: vector, decodedSeconds: decoded,
                      fewRowsSeconds: few, fewRows: fewRows,
                      matrixGFLOPS: flops / matrix / 1e9, sgemmGFLOPS: flops / sgemm / 1e9,
                      matrixRows: matrixRows, matrixShape: slice.shape)
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
