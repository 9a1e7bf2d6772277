import CCUDA
import Foundation

/// One GPU with its primary context made current on the calling thread: device memory, modules
/// and kernel launches go through it. The context is the driver's primary one, shared with any
/// other CUDA code in the process, and released when this object goes away.
///
/// Kernels and products run in order on one stream of the device's own. It is a blocking stream,
/// so the synchronous copies of `DeviceBuffer` (on the legacy default stream) wait for the work
/// launched before them and the work after them waits for the copies: the order of calls is the
/// order of execution. Its work can be recorded once as a `CUDAGraph` and replayed.
public final class CUDADevice {
    public let driver: CUDADriver
    public let info: CUDADeviceInfo
    let context: medtune_cu_context
    /// The stream every launch and product of this device goes to.
    public let stream: medtune_cu_stream
    let ledger = MemoryLedger()

    public init(driver: CUDADriver, ordinal: Int) throws {
        let devices = try driver.devices()
        guard devices.indices.contains(ordinal) else {
            throw CUDAError(library: driver.path, context: "--device cuda:\(ordinal)",
                            devices.isEmpty ? "the driver sees no GPU"
                                : "no such GPU (\(devices.count == 1 ? "only cuda:0" : "cuda:0…cuda:\(devices.count - 1)") exists)")
        }
        self.driver = driver
        info = devices[ordinal]
        var context: medtune_cu_context?
        try driver.check(driver.primaryContextRetain(&context, info.handle), "cuDevicePrimaryCtxRetain")
        self.context = context!
        var stream: medtune_cu_stream?
        do {
            try driver.check(driver.setCurrentContext(self.context), "cuCtxSetCurrent")
            try driver.check(driver.streamCreate(&stream, 0), "cuStreamCreate")
        } catch {
            _ = driver.primaryContextRelease(info.handle)
            throw error
        }
        self.stream = stream!
    }

    deinit {
        _ = driver.streamDestroy(stream)
        _ = driver.primaryContextRelease(info.handle)
    }

    /// Waits for every launched kernel and copy; errors of earlier asynchronous work surface here.
    public func synchronize() throws {
        try driver.check(driver.synchronizeContext(), "cuCtxSynchronize")
    }

    /// Bytes of device memory allocated through this device now, and at most so far.
    public var memoryInUse: Int { ledger.current }
    public var peakMemory: Int { ledger.peak }

    /// Uninitialised device memory of `bytes` bytes. Running out is a one-line error with the
    /// sizes, so that the caller can say what to make smaller.
    public func allocate(bytes: Int) throws -> DeviceBuffer {
        var address: medtune_cu_deviceptr = 0
        let result = driver.memoryAllocate(&address, max(bytes, 1))
        if result == CUDADriver.outOfMemory {
            throw CUDAError(library: driver.path, context: "cuMemAlloc",
                            "out of GPU memory: \(Self.gibibytes(bytes)) more were needed with \(Self.gibibytes(ledger.current)) already in use on \(info.name) (\(Self.gibibytes(info.totalMemory)))")
        }
        try driver.check(result, "cuMemAlloc(\(bytes) bytes)")
        ledger.add(bytes)
        return DeviceBuffer(driver: driver, address: address, bytes: bytes, ledger: ledger)
    }

    public static func gibibytes(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / Double(1 << 30)) }

    /// A device copy of `values`.
    public func upload<T>(_ values: [T]) throws -> DeviceBuffer {
        let buffer = try allocate(bytes: values.count * MemoryLayout<T>.stride)
        try values.withUnsafeBytes { try buffer.copy(from: $0) }
        return buffer
    }

    /// Copies `bytes` bytes between device buffers, in order with the launches on the stream.
    public func copy(_ source: DeviceBuffer, to destination: DeviceBuffer, bytes: Int) throws {
        precondition(bytes <= source.bytes && bytes <= destination.bytes, "copy of \(bytes) bytes between buffers of \(source.bytes) and \(destination.bytes)")
        guard bytes > 0 else { return }
        try driver.check(driver.copyDeviceToDevice(destination.address, source.address, bytes, stream), "cuMemcpyDtoDAsync")
    }

    /// Sets the first `bytes` bytes of `buffer` to zero, in order with the launches on the stream.
    public func zero(_ buffer: DeviceBuffer, bytes: Int) throws {
        precondition(bytes <= buffer.bytes, "zeroing \(bytes) bytes of a \(buffer.bytes)-byte buffer")
        guard bytes > 0 else { return }
        try driver.check(driver.setBytes(buffer.address, 0, bytes, stream), "cuMemsetD8Async")
    }

    /// Whether `record` is capturing the stream now: nothing may wait for the device meanwhile.
    public private(set) var isRecording = false

    /// Records the launches and products `work` makes on the device's stream, without running
    /// them, as a graph that `launch(_:)` replays with the same arguments. Copies between host and
    /// device cannot be recorded: make them before or after.
    public func record(_ work: () throws -> Void) throws -> CUDAGraph {
        try driver.check(driver.streamBeginCapture(stream, Int32(MEDTUNE_CU_STREAM_CAPTURE_MODE_RELAXED)), "cuStreamBeginCapture")
        var failure: Error?
        isRecording = true
        do { try work() } catch { failure = error }
        isRecording = false
        var graph: medtune_cu_graph?
        let ended = driver.streamEndCapture(stream, &graph)
        if let failure {
            if let graph { _ = driver.graphDestroy(graph) }
            throw failure
        }
        try driver.check(ended, "cuStreamEndCapture")
        var executable: medtune_cu_graph_exec?
        let instantiated = driver.graphInstantiate(&executable, graph, 0)
        _ = driver.graphDestroy(graph)
        try driver.check(instantiated, "cuGraphInstantiateWithFlags")
        return CUDAGraph(driver: driver, executable: executable!)
    }

    /// Seconds per run of `work` over `runs` runs back to back, after `warmUp` untimed ones, from
    /// an idle device to an idle device: the throughput of queued work.
    public func meanSeconds(of runs: Int, warmUp: Int = 3, _ work: () throws -> Void) throws -> Double {
        for _ in 0..<warmUp { try work() }
        try synchronize()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<runs { try work() }
        try synchronize()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(runs)
    }

    /// The shortest of `runs` runs of `work`, each timed from an idle device to an idle device.
    public func fastest(of runs: Int, _ work: () throws -> Void) throws -> Double {
        try (0..<runs).map { _ in try timed(work).seconds }.min() ?? .infinity
    }

    /// `work`'s result and its seconds from an idle device to an idle device.
    public func timed<T>(_ work: () throws -> T) throws -> (result: T, seconds: Double) {
        try synchronize()
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try work()
        try synchronize()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// Runs a recorded graph on the device's stream.
    public func launch(_ graph: CUDAGraph) throws {
        try driver.check(driver.graphLaunch(graph.executable, stream), "cuGraphLaunch")
    }

    /// Loads PTX text (or a CUBIN image) into the context.
    public func loadModule(image: Data) throws -> CUDAModule {
        var module: medtune_cu_module?
        // PTX must end in NUL for the driver to know where the text stops.
        let terminated = image.last == 0 ? image : image + [0]
        try terminated.withUnsafeBytes { bytes in
            try driver.check(driver.moduleLoadData(&module, bytes.baseAddress!), "cuModuleLoadData")
        }
        return CUDAModule(driver: driver, handle: module!)
    }

    /// Launches `function` on a grid of `grid` blocks of `block` threads.
    public func launch(_ function: CUDAFunction, grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0,
                       _ arguments: [KernelArgument]) throws {
        // cuLaunchKernel takes one pointer per parameter to storage holding its value. Each value
        // gets an 8-byte slot; on little-endian machines a 4-byte value at the slot's start reads
        // back as itself.
        var slots = arguments.map(\.bits)
        try slots.withUnsafeMutableBufferPointer { slots in
            var pointers: [UnsafeMutableRawPointer?] = slots.indices.map { UnsafeMutableRawPointer(slots.baseAddress! + $0) }
            let result = pointers.withUnsafeMutableBufferPointer { pointers in
                driver.launchKernel(function.handle, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2),
                                    UInt32(block.0), UInt32(block.1), UInt32(block.2), UInt32(sharedBytes), stream,
                                    pointers.baseAddress, nil)
            }
            try driver.check(result, "cuLaunchKernel(\(function.name))")
        }
    }
}

/// A value passed to a kernel parameter.
public enum KernelArgument {
    case buffer(DeviceBuffer)
    /// A null pointer, for optional inputs such as an absent key mask.
    case null
    case int32(Int32)
    case int64(Int64)
    case float32(Float)

    public static func int(_ value: Int) -> KernelArgument { .int32(Int32(value)) }

    var bits: UInt64 {
        switch self {
        case .buffer(let buffer): return buffer.address
        case .null: return 0
        case .int32(let value): return UInt64(UInt32(bitPattern: value))
        case .int64(let value): return UInt64(bitPattern: value)
        case .float32(let value): return UInt64(value.bitPattern)
        }
    }
}

/// Device memory, freed when the object goes away; or a part of another buffer (`slice`), which
/// keeps that one alive.
public final class DeviceBuffer {
    let driver: CUDADriver
    public let address: medtune_cu_deviceptr
    public let bytes: Int
    let ledger: MemoryLedger
    private let whole: DeviceBuffer?

    init(driver: CUDADriver, address: medtune_cu_deviceptr, bytes: Int, ledger: MemoryLedger, whole: DeviceBuffer? = nil) {
        self.driver = driver
        self.address = address
        self.bytes = bytes
        self.ledger = ledger
        self.whole = whole
    }

    deinit {
        guard whole == nil else { return }
        _ = driver.memoryFree(address)
        ledger.add(-bytes)
    }

    /// `bytes` bytes from `offset` of this buffer: one allocation serves many (cuMemAlloc is
    /// slow and synchronising, so caches allocate once).
    public func slice(offset: Int, bytes: Int) -> DeviceBuffer {
        precondition(offset >= 0 && offset + bytes <= self.bytes, "slice \(offset)+\(bytes) of a \(self.bytes)-byte buffer")
        return DeviceBuffer(driver: driver, address: address + medtune_cu_deviceptr(offset), bytes: bytes, ledger: ledger, whole: whole ?? self)
    }

    public func copy(from host: UnsafeRawBufferPointer) throws {
        precondition(host.count <= bytes, "copy of \(host.count) bytes into a \(bytes)-byte buffer")
        guard host.count > 0 else { return }
        try driver.check(driver.copyHostToDevice(address, host.baseAddress!, host.count), "cuMemcpyHtoD")
    }

    /// The first `count` values of type T, copied back to the host (after the work before it).
    public func download<T>(_ type: T.Type, count: Int) throws -> [T] {
        precondition(count * MemoryLayout<T>.stride <= bytes, "download past the end of a \(bytes)-byte buffer")
        return try [T](unsafeUninitializedCapacity: count) { values, initialised in
            if count > 0 {
                try driver.check(driver.copyDeviceToHost(values.baseAddress!, address, count * MemoryLayout<T>.stride), "cuMemcpyDtoH")
            }
            initialised = count
        }
    }
}

/// A loaded module of compiled kernels, unloaded when the object goes away.
public final class CUDAModule {
    let driver: CUDADriver
    let handle: medtune_cu_module

    init(driver: CUDADriver, handle: medtune_cu_module) {
        self.driver = driver
        self.handle = handle
    }

    deinit { _ = driver.moduleUnload(handle) }

    public func function(_ name: String) throws -> CUDAFunction {
        var function: medtune_cu_function?
        try driver.check(driver.moduleGetFunction(&function, handle, name), "cuModuleGetFunction(\(name))")
        return CUDAFunction(name: name, handle: function!, module: self)
    }
}

/// A kernel entry point; keeps its module loaded.
public struct CUDAFunction {
    public let name: String
    let handle: medtune_cu_function
    let module: CUDAModule
}

/// A recorded sequence of launches (`CUDADevice.record`), ready to replay.
public final class CUDAGraph {
    let driver: CUDADriver
    let executable: medtune_cu_graph_exec

    init(driver: CUDADriver, executable: medtune_cu_graph_exec) {
        self.driver = driver
        self.executable = executable
    }

    deinit { _ = driver.graphExecDestroy(executable) }
}

/// Device memory a `CUDADevice` has handed out: now, and the most at any time.
final class MemoryLedger {
    private(set) var current = 0, peak = 0

    func add(_ bytes: Int) {
        current += bytes
        peak = max(peak, current)
    }
}
