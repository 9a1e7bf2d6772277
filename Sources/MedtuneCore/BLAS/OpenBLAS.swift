import CBLAS
import Foundation

/// OpenBLAS, opened at run time.
///
/// medtune does not link OpenBLAS: the library picks its kernels in a load-time constructor, before
/// any code of ours could run, so it is opened with `dlopen` after `KernelSelection` has spoken.
public final class OpenBLAS: @unchecked Sendable {
    public let path: String
    public let kernelChoice: KernelChoice
    private let sgemmFn: medtune_sgemm_fn
    private let dgemmFn: medtune_dgemm_fn
    private let sgemvFn: medtune_sgemv_fn
    private let dgemvFn: medtune_dgemv_fn
    private let configFn: medtune_string_fn?
    private let corenameFn: medtune_string_fn?
    private let getThreadsFn: medtune_int_fn?
    private let setThreadsFn: medtune_set_threads_fn?

    /// The library `MEDTUNE_OPENBLAS` names, when set: then it is the only one tried, so that a
    /// misspelt path is an error rather than a silent fallback to the system's library.
    static var explicitLibrary: String? {
        ProcessInfo.processInfo.environment["MEDTUNE_OPENBLAS"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Library names tried in order.
    static var candidates: [String] {
        if let explicitLibrary { return [explicitLibrary] }
        return ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib",
                "/opt/homebrew/opt/openblas/lib/libopenblas.dylib", "/usr/local/opt/openblas/lib/libopenblas.dylib"]
    }

    /// Result of the one load of the process; `shared` and `load()` read it.
    private static let loaded: Result<OpenBLAS, SystemError> = {
        let choice = KernelSelection.apply()
        setIdleWait()
        var errors: [String] = []
        for name in candidates {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
                errors.append(String(cString: dlerror()))
                continue
            }
            do {
                return .success(try OpenBLAS(handle: handle, path: name, choice: choice))
            } catch let error as SystemError {
                return .failure(error)
            } catch {
                return .failure(SystemError("\(name): \(error)"))
            }
        }
        if let explicitLibrary {
            return .failure(SystemError("MEDTUNE_OPENBLAS=\(explicitLibrary): cannot open the library (\(errors.first ?? "not found"))"))
        }
        return .failure(SystemError("cannot load OpenBLAS (install libopenblas-dev, or set MEDTUNE_OPENBLAS): \(errors.first ?? "not found")"))
    }()

    /// OpenBLAS's idle worker threads spin (calling sched_yield) for 2^28 cycles, about a tenth of
    /// a second, before they sleep, so between two products they take CPU time from medtune's own
    /// threads (attention, norms, packing, the bf16 kernel). 2^20 cycles, under a millisecond, is
    /// still far longer than the gap between the products of one layer: a LoRA training step ran
    /// 5–16% faster with it. Read when the library loads; an explicit setting is left alone.
    private static func setIdleWait() {
        setenv("OPENBLAS_THREAD_TIMEOUT", "20", 0)
    }

    /// Loads the library once, reporting a clean error when it is missing.
    @discardableResult
    public static func load() throws -> OpenBLAS { try loaded.get() }

    /// The process's OpenBLAS. Programs call `load()` once at their root to report a missing
    /// library cleanly; code below the root only ever reads `shared`.
    public static var shared: OpenBLAS {
        switch loaded {
        case .success(let blas): return blas
        case .failure(let error): fatalError("medtune: \(error)")
        }
    }

    private init(handle: UnsafeMutableRawPointer, path: String, choice: KernelChoice) throws {
        func symbol<F>(_ name: String, as type: F.Type) -> F? {
            guard let raw = dlsym(handle, name) else { return nil }
            return unsafeBitCast(raw, to: type)
        }
        guard let sgemm = symbol("cblas_sgemm", as: medtune_sgemm_fn.self),
              let dgemm = symbol("cblas_dgemm", as: medtune_dgemm_fn.self),
              let sgemv = symbol("cblas_sgemv", as: medtune_sgemv_fn.self),
              let dgemv = symbol("cblas_dgemv", as: medtune_dgemv_fn.self) else {
            throw SystemError("\(path): not a CBLAS library (cblas_sgemm missing)\(Self.explicitLibrary == path ? " (named by MEDTUNE_OPENBLAS)" : "")")
        }
        self.path = path
        kernelChoice = choice
        sgemmFn = sgemm
        dgemmFn = dgemm
        sgemvFn = sgemv
        dgemvFn = dgemv
        configFn = symbol("openblas_get_config", as: medtune_string_fn.self)
        corenameFn = symbol("openblas_get_corename", as: medtune_string_fn.self)
        getThreadsFn = symbol("openblas_get_num_threads", as: medtune_int_fn.self)
        setThreadsFn = symbol("openblas_set_num_threads", as: medtune_set_threads_fn.self)
    }

    /// Build configuration string, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64".
    public var config: String { configFn.flatMap { $0() }.map { String(cString: $0) } ?? "unknown" }
    /// The kernel family actually in use, as OpenBLAS names it.
    public var coreName: String { corenameFn.flatMap { $0() }.map { String(cString: $0) } ?? "unknown" }
    public var version: String {
        let words = config.split(separator: " ")
        if words.count >= 2, words[0] == "OpenBLAS" { return String(words[1]) }
        return config
    }

    public var threads: Int {
        get { getThreadsFn.map { Int($0()) } ?? 1 }
        set { setThreadsFn?(Int32(newValue)) }
    }

    private let singleThreadLock = NSLock()

    /// Runs `body` with OpenBLAS limited to one thread, then restores its thread count: for
    /// regions that call small matrix products from every core at once, where OpenBLAS's own
    /// threads would only contend with them (and spin while waiting). Such regions are
    /// serialised, so overlapping ones cannot restore each other's setting wrongly.
    public func withOneThread<R>(_ body: () throws -> R) rethrows -> R {
        singleThreadLock.lock()
        defer { singleThreadLock.unlock() }
        let saved = threads
        threads = 1
        defer { threads = saved }
        return try body()
    }

    @inline(__always)
    private func trans(_ t: Bool) -> Int32 { t ? Int32(MedtuneCblasTrans.rawValue) : Int32(MedtuneCblasNoTrans.rawValue) }
    private var rowMajor: Int32 { Int32(MedtuneCblasRowMajor.rawValue) }

    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        sgemmFn(rowMajor, trans(transA), trans(transB), Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    public func dgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                      a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                      beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        dgemmFn(rowMajor, trans(transA), trans(transB), Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    public func sgemv(transA: Bool, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      x: UnsafePointer<Float>, beta: Float, y: UnsafeMutablePointer<Float>) {
        sgemvFn(rowMajor, trans(transA), Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }

    public func dgemv(transA: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                      x: UnsafePointer<Double>, beta: Double, y: UnsafeMutablePointer<Double>) {
        dgemvFn(rowMajor, trans(transA), Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }
}
