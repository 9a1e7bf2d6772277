import Foundation

/// Resident memory of this process from /proc (zero where /proc is absent).
public struct MemoryUsage: Sendable {
    public var resident: Double
    public var peak: Double

    public static func current() -> MemoryUsage {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return MemoryUsage(resident: 0, peak: 0)
        }
        func kilobytes(_ key: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.count > 1 ? (Double(fields[1]) ?? 0) * 1024 : 0
        }
        return MemoryUsage(resident: kilobytes("VmRSS:"), peak: kilobytes("VmHWM:"))
    }
}
