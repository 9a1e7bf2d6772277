import Foundation
import MedtuneCore

/// The nominal float32 FMA peak of the CPU: cores × clock × SIMD lanes × 2 (multiply and add)
/// × FMA units per core. The clock is the kernel's reported frequency; two FMA units per core is
/// true of every AVX2/AVX-512 server core of the last decade (Skylake-SP and later, Zen 2 and later).
public struct MachinePeak: Sendable {
    public var cores: Int
    public var megahertz: Double
    public var lanes: Int
    public var fmaUnits: Int

    public var gflops: Double { Double(cores) * megahertz / 1000 * Double(lanes) * 2 * Double(fmaUnits) }

    public static func current(flags: Set<String> = KernelSelection.cpuFlags(), cpuinfo path: String = "/proc/cpuinfo") -> MachinePeak? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var megahertz: Double?
        for line in text.split(separator: "\n") where line.hasPrefix("cpu MHz") {
            if let colon = line.firstIndex(of: ":") {
                megahertz = Double(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                break
            }
        }
        guard let megahertz, flags.contains("fma") else { return nil }
        let lanes = flags.contains("avx512f") ? 16 : 8
        return MachinePeak(cores: Parallel.threads, megahertz: megahertz, lanes: lanes, fmaUnits: 2)
    }

    public var summary: String {
        String(format: "%.0f GFLOP/s (%d cores × %.0f MHz × %d lanes × 2 × %d FMA units)", gflops, cores, megahertz, lanes, fmaUnits)
    }
}
