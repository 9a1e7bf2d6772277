import CCUDA
import Foundation

/// NVIDIA's run-time CUDA C++ compiler, opened at run time: medtune's kernels ship as CUDA C
/// source and are compiled for the GPU at hand on first use.
public final class NVRTC: @unchecked Sendable {
    /// Tried in order when MEDTUNE_NVRTC is not set: CUDA 13, then 12, then an unversioned link.
    public static let candidates = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"]

    public let path: String
    public private(set) var version: (major: Int, minor: Int)
    private let errorString: medtune_nvrtcGetErrorString_fn
    private let createProgram: medtune_nvrtcCreateProgram_fn
    private let destroyProgram: medtune_nvrtcDestroyProgram_fn
    private let compileProgram: medtune_nvrtcCompileProgram_fn
    private let logSize: medtune_nvrtcGetSize_fn
    private let log: medtune_nvrtcGetBytes_fn
    private let ptxSize: medtune_nvrtcGetSize_fn
    private let ptx: medtune_nvrtcGetBytes_fn

    /// Opens NVRTC. `MEDTUNE_NVRTC` in `environment` names the one file to open: then a path that
    /// cannot be opened is an error rather than a silent fallback to another NVRTC.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> NVRTC {
        if let explicit = environment["MEDTUNE_NVRTC"], !explicit.isEmpty {
            openBuiltins(beside: explicit)
            switch DynamicLibrary.open([explicit]) {
            case .success(let library): return try NVRTC(library)
            case .failure(let failure):
                throw CUDAError(library: explicit, context: "MEDTUNE_NVRTC=\(explicit)",
                                "cannot open the library (\(failure.messages.first ?? "not found"))")
            }
        }
        guard case .success(let library) = DynamicLibrary.open(candidates) else {
            throw CUDAError(library: "libnvrtc", context: "--device cuda",
                            "NVRTC not found (\(candidates.joined(separator: ", "))); install CUDA's NVRTC or set MEDTUNE_NVRTC")
        }
        return try NVRTC(library)
    }

    /// NVRTC opens its companion `libnvrtc-builtins.so.<major>.<minor>` by name when it first
    /// compiles, so a copy outside the loader's path (a pip wheel's, say) fails unless
    /// LD_LIBRARY_PATH names its folder. Opening the companion beside the named file first makes
    /// that later lookup find the loaded one. Nothing is lost when none is there: NVRTC then
    /// reports the missing file itself.
    private static func openBuiltins(beside library: String) {
        let folder = URL(fileURLWithPath: library).deletingLastPathComponent()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasPrefix("libnvrtc-builtins.so.") {
            _ = DynamicLibrary.open([folder.appendingPathComponent(name).path])
        }
    }

    private init(_ library: DynamicLibrary) throws {
        path = library.path
        errorString = try library.symbol("nvrtcGetErrorString", as: medtune_nvrtcGetErrorString_fn.self)
        createProgram = try library.symbol("nvrtcCreateProgram", as: medtune_nvrtcCreateProgram_fn.self)
        destroyProgram = try library.symbol("nvrtcDestroyProgram", as: medtune_nvrtcDestroyProgram_fn.self)
        compileProgram = try library.symbol("nvrtcCompileProgram", as: medtune_nvrtcCompileProgram_fn.self)
        logSize = try library.symbol("nvrtcGetProgramLogSize", as: medtune_nvrtcGetSize_fn.self)
        log = try library.symbol("nvrtcGetProgramLog", as: medtune_nvrtcGetBytes_fn.self)
        ptxSize = try library.symbol("nvrtcGetPTXSize", as: medtune_nvrtcGetSize_fn.self)
        ptx = try library.symbol("nvrtcGetPTX", as: medtune_nvrtcGetBytes_fn.self)
        let versionFn = try library.symbol("nvrtcVersion", as: medtune_nvrtcVersion_fn.self)
        var major: Int32 = 0, minor: Int32 = 0
        version = (0, 0)
        try check(versionFn(&major, &minor), "nvrtcVersion")
        version = (Int(major), Int(minor))
    }

    public var versionString: String { "\(version.major).\(version.minor)" }

    private func check(_ result: medtune_nvrtc_result, _ function: String, _ detail: String = "") throws {
        guard result != 0 else { return }
        let name = errorString(result).map { String(cString: $0) } ?? "NVRTC error"
        throw CUDAError(library: path, context: function, "\(name) (code \(result))" + detail)
    }

    /// Options for PTX of virtual architecture `compute_<architecture>` ("90" for an H100/H200).
    public static func options(architecture: String) -> [String] {
        ["--gpu-architecture=compute_\(architecture)", "--std=c++17"]
    }

    /// PTX text and NVRTC's log (warnings; empty when the source compiles cleanly).
    public struct Output {
        public var ptx: Data
        public var log: String
    }

    /// Compiles `source` (called `name` in messages); a compile error carries NVRTC's log.
    public func compile(_ source: String, name: String, options: [String]) throws -> Output {
        var program: medtune_nvrtc_program?
        try check(createProgram(&program, source, name, 0, nil, nil), "nvrtcCreateProgram(\(name))")
        defer { _ = destroyProgram(&program) }
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        let compiled = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer { options in
            compileProgram(program, Int32(options.count), options.baseAddress)
        }
        let text = try bytes(program, size: logSize, read: log, "nvrtcGetProgramLog")
        let logText = String(decoding: text.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        try check(compiled, "nvrtcCompileProgram(\(name))", logText.isEmpty ? "" : ": " + logText.replacingOccurrences(of: "\n", with: " | "))
        let image = try bytes(program, size: ptxSize, read: ptx, "nvrtcGetPTX")
        return Output(ptx: Data(image.prefix { $0 != 0 }), log: logText)
    }

    private func bytes(_ program: medtune_nvrtc_program?, size: medtune_nvrtcGetSize_fn, read: medtune_nvrtcGetBytes_fn,
                       _ function: String) throws -> [UInt8] {
        var count = 0
        try check(size(program, &count), function + "Size")
        var buffer = [UInt8](repeating: 0, count: max(count, 1))
        try buffer.withUnsafeMutableBufferPointer { buffer in
            try buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                try check(read(program, $0), function)
            }
        }
        return buffer
    }
}
