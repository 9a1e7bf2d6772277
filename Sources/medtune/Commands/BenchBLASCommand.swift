import ArgumentParser
import Bench
import Foundation
import MedtuneCore

/// `medtune bench blas`: medtune's own matrix products against a direct OpenBLAS call with the
/// best kernel for this CPU. The direct call runs in a child process, since OpenBLAS fixes its
/// kernel when it loads; the child gets OPENBLAS_CORETYPE for the best kernel and times the raw
/// `cblas_sgemm`/`cblas_sgemv` entry points. Where the CPU has AVX-512 BF16, the same products
/// in bfloat16 (medtune's kernel, as training uses it) are timed beside sgemm.
struct BenchBLASCommand: ComputeCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas",
        abstract: "sgemm/sgemv throughput through medtune vs a direct OpenBLAS call with the best kernel, and bf16 GEMM beside sgemm.")

    @Option(help: "Timed repetitions per shape (best is kept).")
    var repeats = 7

    @Flag(help: .hidden)
    var direct = false

    struct Shape { var m, n, k: Int; var label: String }
    static let gemmShapes = [
        Shape(m: 1024, n: 4864, k: 896, label: "1024×896 · 896×4864 (0.5B MLP, 1k tokens)"),
        Shape(m: 1024, n: 896, k: 896, label: "1024×896 · 896×896 (0.5B attention proj)"),
        Shape(m: 512, n: 3584, k: 3584, label: "512×3584 · 3584×3584 (7B attention proj)"),
    ]
    static let gemvShapes = [(rows: 4864, cols: 896), (rows: 18944, cols: 3584)]

    func run() throws {
        let blas = OpenBLAS.shared
        if direct {
            // Child: raw OpenBLAS, one number per line.
            for s in Self.gemmShapes { print(directGEMM(blas, s)) }
            for s in Self.gemvShapes { print(directGEMV(blas, rows: s.rows, cols: s.cols)) }
            return
        }
        let best = KernelSelection.coreType(forCPUFlags: KernelSelection.cpuFlags())?.name
        print("OpenBLAS \(blas.version), medtune kernel: \(blas.coreName) (\(blas.kernelChoice.summary))")
        print("peer: direct cblas calls with OPENBLAS_CORETYPE=\(best ?? "library default") in a child process")
        let peak = MachinePeak.current()
        if let peak { print("fp32 FMA peak: \(peak.summary)") }
        let peer = try runPeer(coreType: best)
        let bf16 = MatrixPrecision.bfloat16.isSupported
        if !bf16 { print("bf16 GEMM: not available (the CPU lacks AVX-512 BF16)") }
        typealias Row = (label: String, ours: Double, bf16: Double?)
        let rows: [Row] = Self.gemmShapes.map { s in
            ("sgemm \(s.label)", GEMMProbe.gflops(m: s.m, n: s.n, k: s.k, repeats: repeats),
             bf16 ? GEMMProbe.gflops(m: s.m, n: s.n, k: s.k, repeats: repeats, precision: .bfloat16) : nil)
        } + Self.gemvShapes.map { ("sgemv \($0.rows)×\($0.cols)", GEMMProbe.gemvGFLOPS(rows: $0.rows, cols: $0.cols, repeats: repeats * 4), nil) }
        print(String(repeating: "-", count: 116))
        print(tableCell("shape", 48) + tableCell("medtune", 10) + tableCell("direct", 10) + tableCell("ratio", 8) + tableCell("of peak", 9)
              + tableCell("bf16", 10) + "bf16 ÷ best sgemm")
        for (i, row) in rows.enumerated() {
            let theirs = i < peer.count ? peer[i] : .nan
            let ofPeak = peak.map { String(format: "%.0f%%", 100 * row.ours / $0.gflops) } ?? "n/a"
            print(tableCell(row.label, 48) + tableCell(String(format: "%.1f", row.ours), 10) + tableCell(String(format: "%.1f", theirs), 10)
                  + tableCell(String(format: "%.2f", row.ours / theirs), 8) + tableCell(ofPeak, 9)
                  + tableCell(row.bf16.map { String(format: "%.1f", $0) } ?? "-", 10) + (row.bf16.map { String(format: "%.2f", $0 / max(row.ours, theirs.isNaN ? 0 : theirs)) } ?? "-"))
        }
        if case .user(let name) = blas.kernelChoice, let best, name != best {
            print("note: OPENBLAS_CORETYPE=\(name) is set in the environment; unset it to let medtune use \(best).")
        }
    }

    private func runPeer(coreType: String?) throws -> [Double] {
        var executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        if !FileManager.default.isExecutableFile(atPath: executable) {
            executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        }
        let peer = try PeerProcess.run(executable, ["bench", "blas", "--direct", "--repeats", String(repeats)],
                                       environment: ["OPENBLAS_CORETYPE": coreType])
        guard peer.succeeded else {
            throw SystemError("bench blas: the direct OpenBLAS peer failed (\(peer.status))" + (peer.lastErrorLine.map { ": \($0)" } ?? ""))
        }
        return String(decoding: peer.output, as: UTF8.self).split(separator: "\n").compactMap { Double($0) }
    }

    private func directGEMM(_ blas: OpenBLAS, _ s: Shape) -> Double {
        let a = [Float](repeating: 0.5, count: s.m * s.k), b = [Float](repeating: 0.25, count: s.k * s.n)
        var c = [Float](repeating: 0, count: s.m * s.n)
        return GEMMProbe.bestRate(flops: 2.0 * Double(s.m * s.n * s.k), repeats: repeats) {
            c.withUnsafeMutableBufferPointer { c in
                blas.sgemm(transA: false, transB: false, m: s.m, n: s.n, k: s.k, alpha: 1, a: a, lda: s.k, b: b, ldb: s.n, beta: 0, c: c.baseAddress!, ldc: s.n)
            }
        }
    }

    private func directGEMV(_ blas: OpenBLAS, rows: Int, cols: Int) -> Double {
        let a = [Float](repeating: 0.5, count: rows * cols), x = [Float](repeating: 0.25, count: cols)
        var y = [Float](repeating: 0, count: rows)
        return GEMMProbe.bestRate(flops: 2.0 * Double(rows * cols), repeats: repeats * 4) {
            y.withUnsafeMutableBufferPointer { y in
                blas.sgemv(transA: false, m: rows, n: cols, alpha: 1, a: a, lda: cols, x: x, beta: 0, y: y.baseAddress!)
            }
        }
    }
}
