import Crypto
import Foundation
import MedtuneCore

/// Compiled kernels on disk, so NVRTC runs once per source, option set, driver and GPU
/// architecture: `<cache>/cuda-kernels/<sha256 of source and options>-<driver version>-sm<XY>.ptx`.
/// The driver version is part of the name because PTX newer than the driver cannot load, and a
/// driver upgrade is when the choice of NVRTC (and so the PTX) most often changes.
public struct KernelCache {
    public var folder: URL

    public init(folder: URL) { self.folder = folder }

    /// medtune's cache root, as for downloads: MEDTUNE_HOME, else ~/.cache/medtune.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        folder = CacheFolder.root(environment).appendingPathComponent("cuda-kernels")
    }

    /// Hex SHA-256 of the source and the compiler options; a NUL separates each part so that no
    /// two different (source, options) lists hash the same bytes.
    public static func key(source: String, options: [String]) -> String {
        var hash = SHA256()
        for part in [source] + options {
            hash.update(data: Data(part.utf8))
            hash.update(data: Data([0]))
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    public func file(source: String, options: [String], driverVersion: Int32, architecture: String) -> URL {
        folder.appendingPathComponent("\(Self.key(source: source, options: options))-\(driverVersion)-sm\(architecture).ptx")
    }

    /// The cached PTX for `source` in `storage`, compiled and stored on a miss. Written atomically, so a
    /// medtune stopped mid-write, or two starting at once, never leave a torn file behind.
    public func ptx(for source: CUDAKernelSource, storage: CUDAKernelSource.Storage, nvrtc: NVRTC, driverVersion: Int32,
                    architecture: String) throws -> Data {
        let options = NVRTC.options(architecture: architecture), text = source.text(storage)
        let url = file(source: text, options: options, driverVersion: driverVersion, architecture: architecture)
        if let cached = try? Data(contentsOf: url), !cached.isEmpty { return cached }
        let output = try nvrtc.compile(text, name: source.name, options: options)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw SystemError("\(folder.path): cannot create the kernel cache (\(SystemError.reason(of: error)))")
        }
        try AtomicFile.write(output.ptx, to: url.path)
        return output.ptx
    }
}
