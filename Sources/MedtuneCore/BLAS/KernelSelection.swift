import Foundation

/// How the OpenBLAS kernel family (its `OPENBLAS_CORETYPE`) was decided.
public enum KernelChoice: Equatable, Sendable {
    /// The caller's environment already named one; medtune leaves it alone.
    case user(String)
    /// medtune chose it from the CPU's instruction sets before OpenBLAS loaded.
    case selected(String, reason: String)
    /// Left to OpenBLAS's own CPU detection (no better family known for this CPU).
    case library

    public var summary: String {
        switch self {
        case .user(let name): return "OPENBLAS_CORETYPE=\(name) from the environment"
        case .selected(let name, let reason): return "\(name), selected by medtune (\(reason))"
        case .library: return "OpenBLAS's own detection"
        }
    }
}

/// Chooses OpenBLAS's kernel family from the instruction sets a CPU reports.
///
/// OpenBLAS picks kernels by CPU model number; for models newer than the library (Debian's 0.3.21
/// on Zen 4/5 or recent Xeons, say) it falls back to SSE3 `Prescott` kernels that are ~7× slower.
/// The features, unlike model numbers, say what a CPU can run, and the kernel is never one it can't.
public enum KernelSelection {
    public static func coreType(forCPUFlags flags: Set<String>) -> (name: String, reason: String)? {
        let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
        if avx512.allSatisfy(flags.contains) {
            if flags.contains("avx512_bf16") { return ("Cooperlake", "AVX-512 with BF16") }
            return ("SkylakeX", "AVX-512")
        }
        if flags.contains("avx2") && flags.contains("fma") { return ("Haswell", "AVX2 with FMA") }
        if flags.contains("avx") { return ("Sandybridge", "AVX") }
        return nil
    }

    /// The CPU's feature flags as the kernel reports them (which also accounts for OS support of
    /// the wider registers). Empty where /proc/cpuinfo does not exist.
    public static func cpuFlags(cpuinfo path: String = "/proc/cpuinfo") -> Set<String> {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// Decides the kernel family and, when medtune chooses it, exports `OPENBLAS_CORETYPE` so
    /// that OpenBLAS reads it when it is loaded. Must run before the library is opened.
    public static func apply(environment: [String: String] = ProcessInfo.processInfo.environment,
                             flags: Set<String> = cpuFlags()) -> KernelChoice {
        if let user = environment["OPENBLAS_CORETYPE"], !user.isEmpty { return .user(user) }
        guard let (name, reason) = coreType(forCPUFlags: flags) else { return .library }
        setenv("OPENBLAS_CORETYPE", name, 1)
        return .selected(name, reason: reason)
    }
}
