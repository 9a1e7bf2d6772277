import Dispatch
import Foundation
import MedtuneCore

/// What medtune knows about the machine's matrix-product capacity: the OpenBLAS build, the kernel
/// family in use and why, threads, and a measured sgemm rate.
public struct SystemReport: Sendable {
    public var openBLASVersion: String
    public var openBLASConfig: String
    public var libraryPath: String
    public var kernel: String
    public var kernelChoice: KernelChoice
    public var threads: Int
    public var cpuCores: Int
    /// GFLOP/s of a 1024×896 · 896×4864 sgemm (a 0.5B model's MLP up-projection for 1024 tokens).
    public var sgemmGFLOPS: Double

    public static func measure() throws -> SystemReport {
        let blas = try OpenBLAS.load()
        return SystemReport(
            openBLASVersion: blas.version, openBLASConfig: blas.config, libraryPath: blas.path,
            kernel: blas.coreName, kernelChoice: blas.kernelChoice, threads: blas.threads,
            cpuCores: Parallel.threads,
            sgemmGFLOPS: GEMMProbe.gflops(m: 1024, n: 4864, k: 896))
    }

    public var lines: [String] {
        [
            "OpenBLAS:   \(openBLASVersion) (\(libraryPath))",
            "config:     \(openBLASConfig)",
            "kernel:     \(kernel) — \(kernelChoice.summary)",
            "threads:    \(threads) BLAS, \(cpuCores) cores",
            String(format: "sgemm:      %.1f GFLOP/s (1024×896 · 896×4864)", sgemmGFLOPS),
        ]
    }
}

/// Measures matrix-product throughput through `Matmul`, the path medtune's own code takes.
public enum GEMMProbe {
    /// Best-of-`repeats` GFLOP/s of C[m×n] = A[m×k]·B[k×n] after one warm-up call.
    public static func gflops(m: Int, n: Int, k: Int, repeats: Int = 5, precision: MatrixPrecision = .float32) -> Double {
        let a = Tensor<Float>([m, k]), b = Tensor<Float>([k, n]), c = Tensor<Float>([m, n])
        var rng = SplitMix64(seed: 1)
        for i in 0..<a.count { a[i] = rng.nextFloat() - 0.5 }
        for i in 0..<b.count { b[i] = rng.nextFloat() - 0.5 }
        return bestRate(flops: 2.0 * Double(m) * Double(n) * Double(k), repeats: repeats) {
            Matmul.gemm(m: m, n: n, k: k, a: a.pointer, b: b.pointer, c: c.pointer, precision: precision)
        }
    }

    /// Best-of-`repeats` GFLOP/s of y[rows] = A[rows×cols]·x.
    public static func gemvGFLOPS(rows: Int, cols: Int, repeats: Int = 20) -> Double {
        let a = Tensor<Float>([rows, cols]), x = Tensor<Float>([cols]), y = Tensor<Float>([rows])
        var rng = SplitMix64(seed: 2)
        for i in 0..<a.count { a[i] = rng.nextFloat() - 0.5 }
        for i in 0..<x.count { x[i] = rng.nextFloat() - 0.5 }
        return bestRate(flops: 2.0 * Double(rows) * Double(cols), repeats: repeats) {
            Matmul.gemv(rows: rows, cols: cols, a: a.pointer, x: x.pointer, y: y.pointer)
        }
    }

    /// Runs `work` once to warm up, then `repeats` times, returning the best rate in GFLOP/s.
    public static func bestRate(flops: Double, repeats: Int, _ work: () -> Void) -> Double {
        work()
        var best = Double.infinity
        for _ in 0..<max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            work()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return flops / best / 1e9
    }
}
