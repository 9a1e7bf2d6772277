import CCUDA
import Foundation

/// The NVIDIA driver API (`libcuda.so.1`), opened at run time and initialised.
///
/// medtune never links the driver, so one binary runs on machines without a GPU; a missing driver
/// is an error only for code that asks for CUDA. A loaded driver is an object passed to whatever
/// needs it, never process-global state.
public final class CUDADriver: @unchecked Sendable {
    public static let libraryName = "libcuda.so.1"

    public let path: String
    /// CUDA version the driver implements, as cuDriverGetVersion gives it (13000 for 13.0).
    public private(set) var version: Int32

    let getDeviceCount: medtune_cuDeviceGetCount_fn
    let getDevice: medtune_cuDeviceGet_fn
    let getDeviceName: medtune_cuDeviceGetName_fn
    let deviceTotalMemory: medtune_cuDeviceTotalMem_fn
    let getDeviceAttribute: medtune_cuDeviceGetAttribute_fn
    let primaryContextRetain: medtune_cuDevicePrimaryCtxRetain_fn
    let primaryContextRelease: medtune_cuDevicePrimaryCtxRelease_fn
    let setCurrentContext: medtune_cuCtxSetCurrent_fn
    let synchronizeContext: medtune_cuCtxSynchronize_fn
    let memoryAllocate: medtune_cuMemAlloc_fn
    let memoryFree: medtune_cuMemFree_fn
    let copyHostToDevice: medtune_cuMemcpyHtoD_fn
    let copyDeviceToHost: medtune_cuMemcpyDtoH_fn
    let copyDeviceToDevice: medtune_cuMemcpyDtoDAsync_fn
    let setBytes: medtune_cuMemsetD8Async_fn
    let moduleLoadData: medtune_cuModuleLoadData_fn
    let moduleUnload: medtune_cuModuleUnload_fn
    let moduleGetFunction: medtune_cuModuleGetFunction_fn
    let launchKernel: medtune_cuLaunchKernel_fn
    let streamCreate: medtune_cuStreamCreate_fn
    let streamDestroy: medtune_cuStreamDestroy_fn
    let streamBeginCapture: medtune_cuStreamBeginCapture_fn
    let streamEndCapture: medtune_cuStreamEndCapture_fn
    let graphInstantiate: medtune_cuGraphInstantiate_fn
    let graphLaunch: medtune_cuGraphLaunch_fn
    let graphExecDestroy: medtune_cuGraphExecDestroy_fn
    let graphDestroy: medtune_cuGraphDestroy_fn
    private let errorName: medtune_cuGetErrorString_fn
    private let errorString: medtune_cuGetErrorString_fn

    /// Opens and initialises the driver. Without one the error reads
    /// `--device cuda: no NVIDIA driver found (libcuda.so.1)`.
    public static func load() throws -> CUDADriver {
        guard case .success(let library) = DynamicLibrary.open([libraryName]) else {
            throw CUDAError(library: libraryName, context: "--device cuda", "no NVIDIA driver found (\(libraryName))")
        }
        return try CUDADriver(library)
    }

    private init(_ library: DynamicLibrary) throws {
        path = library.path
        // The driver exports versioned names (_v2) for functions whose ABI changed with 64-bit
        // sizes; the plain names keep the 32-bit ABI for old binaries.
        getDeviceCount = try library.symbol("cuDeviceGetCount", as: medtune_cuDeviceGetCount_fn.self)
        getDevice = try library.symbol("cuDeviceGet", as: medtune_cuDeviceGet_fn.self)
        getDeviceName = try library.symbol("cuDeviceGetName", as: medtune_cuDeviceGetName_fn.self)
        deviceTotalMemory = try library.symbol("cuDeviceTotalMem_v2", as: medtune_cuDeviceTotalMem_fn.self)
        getDeviceAttribute = try library.symbol("cuDeviceGetAttribute", as: medtune_cuDeviceGetAttribute_fn.self)
        primaryContextRetain = try library.symbol("cuDevicePrimaryCtxRetain", as: medtune_cuDevicePrimaryCtxRetain_fn.self)
        primaryContextRelease = try library.symbol("cuDevicePrimaryCtxRelease_v2", as: medtune_cuDevicePrimaryCtxRelease_fn.self)
        setCurrentContext = try library.symbol("cuCtxSetCurrent", as: medtune_cuCtxSetCurrent_fn.self)
        synchronizeContext = try library.symbol("cuCtxSynchronize", as: medtune_cuCtxSynchronize_fn.self)
        memoryAllocate = try library.symbol("cuMemAlloc_v2", as: medtune_cuMemAlloc_fn.self)
        memoryFree = try library.symbol("cuMemFree_v2", as: medtune_cuMemFree_fn.self)
        copyHostToDevice = try library.symbol("cuMemcpyHtoD_v2", as: medtune_cuMemcpyHtoD_fn.self)
        copyDeviceToHost = try library.symbol("cuMemcpyDtoH_v2", as: medtune_cuMemcpyDtoH_fn.self)
        copyDeviceToDevice = try library.symbol("cuMemcpyDtoDAsync_v2", as: medtune_cuMemcpyDtoDAsync_fn.self)
        setBytes = try library.symbol("cuMemsetD8Async", as: medtune_cuMemsetD8Async_fn.self)
        moduleLoadData = try library.symbol("cuModuleLoadData", as: medtune_cuModuleLoadData_fn.self)
        moduleUnload = try library.symbol("cuModuleUnload", as: medtune_cuModuleUnload_fn.self)
        moduleGetFunction = try library.symbol("cuModuleGetFunction", as: medtune_cuModuleGetFunction_fn.self)
        launchKernel = try library.symbol("cuLaunchKernel", as: medtune_cuLaunchKernel_fn.self)
        streamCreate = try library.symbol("cuStreamCreate", as: medtune_cuStreamCreate_fn.self)
        streamDestroy = try library.symbol("cuStreamDestroy_v2", as: medtune_cuStreamDestroy_fn.self)
        streamBeginCapture = try library.symbol("cuStreamBeginCapture_v2", as: medtune_cuStreamBeginCapture_fn.self)
        streamEndCapture = try library.symbol("cuStreamEndCapture", as: medtune_cuStreamEndCapture_fn.self)
        graphInstantiate = try library.symbol("cuGraphInstantiateWithFlags", as: medtune_cuGraphInstantiate_fn.self)
        graphLaunch = try library.symbol("cuGraphLaunch", as: medtune_cuGraphLaunch_fn.self)
        graphExecDestroy = try library.symbol("cuGraphExecDestroy", as: medtune_cuGraphExecDestroy_fn.self)
        graphDestroy = try library.symbol("cuGraphDestroy", as: medtune_cuGraphDestroy_fn.self)
        errorName = try library.symbol("cuGetErrorName", as: medtune_cuGetErrorString_fn.self)
        errorString = try library.symbol("cuGetErrorString", as: medtune_cuGetErrorString_fn.self)
        let initialise = try library.symbol("cuInit", as: medtune_cuInit_fn.self)
        let driverVersion = try library.symbol("cuDriverGetVersion", as: medtune_cuDriverGetVersion_fn.self)
        var version: Int32 = 0
        self.version = 0
        try check(initialise(0), "cuInit")
        try check(driverVersion(&version), "cuDriverGetVersion")
        self.version = version
    }

    /// CUDA_ERROR_OUT_OF_MEMORY.
    static let outOfMemory: medtune_cu_result = 2

    /// "13.0" for 13000.
    public var versionString: String { "\(version / 1000).\(version % 1000 / 10)" }

    /// Throws unless `result` is CUDA_SUCCESS: `cuModuleLoadData: CUDA_ERROR_INVALID_PTX (code 218): …`.
    func check(_ result: medtune_cu_result, _ function: String) throws {
        guard result != 0 else { return }
        throw CUDAError(library: path, context: function, describe(result))
    }

    /// The driver's name and text for an error code.
    func describe(_ result: medtune_cu_result) -> String {
        var name: UnsafePointer<CChar>?, text: UnsafePointer<CChar>?
        _ = errorName(result, &name)
        _ = errorString(result, &text)
        let label = name.map { String(cString: $0) } ?? "CUDA error"
        return "\(label) (code \(result))" + (text.map { ": " + String(cString: $0) } ?? "")
    }

    /// Every GPU the driver sees.
    public func devices() throws -> [CUDADeviceInfo] {
        var count: Int32 = 0
        try check(getDeviceCount(&count), "cuDeviceGetCount")
        return try (0..<Int(count)).map { try deviceInfo($0) }
    }

    public func deviceInfo(_ ordinal: Int) throws -> CUDADeviceInfo {
        var device: medtune_cu_device = 0
        try check(getDevice(&device, Int32(ordinal)), "cuDeviceGet")
        var name = [CChar](repeating: 0, count: 256)
        try check(getDeviceName(&name, Int32(name.count - 1), device), "cuDeviceGetName")
        var bytes = 0
        try check(deviceTotalMemory(&bytes, device), "cuDeviceTotalMem")
        func attribute(_ which: Int) throws -> Int {
            var value: Int32 = 0
            try check(getDeviceAttribute(&value, Int32(which), device), "cuDeviceGetAttribute")
            return Int(value)
        }
        return CUDADeviceInfo(
            ordinal: ordinal, handle: device, name: String(cString: name), totalMemory: bytes,
            computeCapability: (try attribute(Int(MEDTUNE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)),
                                try attribute(Int(MEDTUNE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR))),
            multiprocessors: try attribute(Int(MEDTUNE_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)))
    }
}

/// What the driver says about one GPU.
public struct CUDADeviceInfo: Sendable {
    public var ordinal: Int
    var handle: medtune_cu_device
    public var name: String
    public var totalMemory: Int
    public var computeCapability: (major: Int, minor: Int)
    public var multiprocessors: Int

    /// NVRTC's name for the GPU's own architecture: "90" for compute capability 9.0.
    public var architecture: String { "\(computeCapability.major)\(computeCapability.minor)" }

    public var summary: String {
        "\(name), compute capability \(computeCapability.major).\(computeCapability.minor), "
            + String(format: "%.1f GiB", Double(totalMemory) / Double(1 << 30)) + ", \(multiprocessors) SMs"
    }
}
