import Foundation

/// What `inspect --system` says about NVIDIA GPUs: the driver, each GPU, NVRTC and cuBLASLt,
/// and why no GPU is usable when none is.
public struct GPUReport: Sendable {
    public var lines: [String]

    /// Looks at the machine; never fails, since a missing GPU is itself the answer.
    public static func probe(environment: [String: String] = ProcessInfo.processInfo.environment) -> GPUReport {
        var lines: [String] = []
        do {
            let driver = try CUDADriver.load()
            lines.append("CUDA driver: \(driver.versionString) (\(driver.path))")
            let devices = try driver.devices()
            if devices.isEmpty { lines.append("GPU:        none usable — the driver sees no GPU") }
            for device in devices { lines.append("GPU \(device.ordinal):      \(device.summary)") }
        } catch {
            lines.append("GPU:        none usable — \(reason(error))")
        }
        lines.append(Self.line("NVRTC:      ") { let nvrtc = try NVRTC.load(environment: environment); return "\(nvrtc.versionString) (\(nvrtc.path))" })
        lines.append(Self.line("cuBLASLt:   ") { let blas = try CuBLASLt.load(); return "\(blas.versionString) (\(blas.path))" })
        return GPUReport(lines: lines)
    }

    private static func line(_ label: String, _ describe: () throws -> String) -> String {
        do {
            return label + (try describe())
        } catch {
            return label + reason(error)
        }
    }

    /// A missing library reads "no NVIDIA driver found (libcuda.so.1)", without the
    /// "--device cuda:" that the same error carries when a command asks for a GPU.
    private static func reason(_ error: Error) -> String {
        if let error = error as? CUDAError, error.context == "--device cuda" { return error.reason }
        return "\(error)"
    }
}
