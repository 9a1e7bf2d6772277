import CUDA
import Foundation
import MedtuneCore
import XCTest

/// The parts of the CUDA backend that need no GPU: parsing, cache names, and the one-line
/// errors when the libraries are missing.
final class CUDALoadingTests: XCTestCase {
    /// Whether this machine has an NVIDIA driver; CI and developer machines without one check the
    /// missing-driver error, a GPU machine checks that the driver loads.
    var driverPresent: Bool {
        guard let handle = dlopen(CUDADriver.libraryName, RTLD_NOW | RTLD_LOCAL) else { return false }
        dlclose(handle)
        return true
    }

    func testMissingDriverIsOneLineNamingTheLibrary() throws {
        if driverPresent {
            XCTAssertNoThrow(try CUDADriver.load())
            return
        }
        XCTAssertThrowsError(try CUDADriver.load()) { error in
            XCTAssertEqual("\(error)", "--device cuda: no NVIDIA driver found (libcuda.so.1)")
            XCTAssertTrue(error is MedtuneError)
        }
    }

    func testReportSaysWhyNoGPUIsUsable() throws {
        let report = GPUReport.probe()
        if driverPresent { return }
        XCTAssertEqual(report.lines.first, "GPU:        none usable — no NVIDIA driver found (libcuda.so.1)")
        XCTAssertTrue(report.lines.contains { $0.hasPrefix("NVRTC:") })
        XCTAssertTrue(report.lines.contains { $0.hasPrefix("cuBLASLt:") })
    }

    func testNamedNVRTCThatCannotOpenIsAnError() {
        XCTAssertThrowsError(try NVRTC.load(environment: ["MEDTUNE_NVRTC": "/nonexistent/libnvrtc.so.13"])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("MEDTUNE_NVRTC=/nonexistent/libnvrtc.so.13: cannot open the library ("), text)
            XCTAssertFalse(text.contains("\n"))
        }
    }

    func testDeviceChoices() throws {
        XCTAssertEqual(try DeviceChoice(parsing: "auto"), .auto)
        XCTAssertEqual(try DeviceChoice(parsing: "cpu"), .cpu)
        XCTAssertEqual(try DeviceChoice(parsing: "cuda"), .cuda(index: 0))
        XCTAssertEqual(try DeviceChoice(parsing: "cuda:0"), .cuda(index: 0))
        XCTAssertEqual(try DeviceChoice(parsing: "cuda:3"), .cuda(index: 3))
        XCTAssertEqual(try DeviceChoice(parsing: "cuda:3").description, "cuda:3")
        for bad in ["", "gpu", "CUDA", "cuda:", "cuda:-1", "cuda:+1", "cuda:x", "cuda:1.5", "cuda:٣", "cuda:99999999999999999999", " cuda"] {
            XCTAssertThrowsError(try DeviceChoice(parsing: bad), "accepted \(bad)") { error in
                XCTAssertTrue(error is InputError)
                XCTAssertTrue("\(error)".hasPrefix("--device \(bad):"), "\(error)")
            }
        }
    }

    func testCacheKeyCoversSourceAndOptions() {
        let key = KernelCache.key(source: "a", options: ["--x"])
        XCTAssertEqual(key.count, 64)
        XCTAssertTrue(key.allSatisfy { "0123456789abcdef".contains($0) })
        XCTAssertEqual(key, KernelCache.key(source: "a", options: ["--x"]))
        XCTAssertNotEqual(key, KernelCache.key(source: "b", options: ["--x"]))
        XCTAssertNotEqual(key, KernelCache.key(source: "a", options: ["--y"]))
        // Parts are separated, so moving text between source and options changes the key.
        XCTAssertNotEqual(KernelCache.key(source: "a--x", options: []), key)
        XCTAssertNotEqual(KernelCache.key(source: "", options: ["ab"]), KernelCache.key(source: "", options: ["a", "b"]))
        // SHA-256 of "a\0--x\0", so the name is stable across medtune versions and machines.
        XCTAssertEqual(key, "2000520c35c723f3dc35420a657d7299524d6bb4a881671851eb9acdc6619038")
    }

    func testCacheFileName() {
        let cache = KernelCache(environment: ["MEDTUNE_HOME": "/tmp/mt", "HOME": "/home/u"])
        XCTAssertEqual(cache.folder.path, "/tmp/mt/cuda-kernels")
        XCTAssertEqual(KernelCache(environment: ["HOME": "/home/u"]).folder.path, "/home/u/.cache/medtune/cuda-kernels")
        let file = cache.file(source: "s", options: ["o"], driverVersion: 13000, architecture: "90")
        XCTAssertEqual(file.lastPathComponent, KernelCache.key(source: "s", options: ["o"]) + "-13000-sm90.ptx")
        XCTAssertEqual(file.deletingLastPathComponent().path, "/tmp/mt/cuda-kernels")
    }
}
