import CUDA
import Foundation
import XCTest

/// Every kernel medtune ships compiles with NVRTC, cleanly, for Ampere and Hopper. This needs no
/// GPU: NVRTC only turns CUDA C into PTX. scripts/test.sh installs NVRTC and sets MEDTUNE_NVRTC.
final class KernelCompileTests: XCTestCase {
    static let architectures = ["80", "90"]

    func loadNVRTC() throws -> NVRTC {
        do {
            return try NVRTC.load()
        } catch {
            XCTFail("NVRTC is needed to compile the CUDA kernels: run scripts/test.sh, which installs it and sets MEDTUNE_NVRTC (\(error))")
            throw error
        }
    }

    func testEveryKernelCompilesWithoutWarnings() throws {
        let nvrtc = try loadNVRTC()
        XCTAssertFalse(CUDAKernelSource.all.isEmpty)
        for source in CUDAKernelSource.all {
            for storage in source.storages {
                for architecture in Self.architectures {
                    let label = "\(source.name) (\(storage.rawValue)) for compute_\(architecture)"
                    let output: NVRTC.Output
                    do {
                        output = try nvrtc.compile(source.text(storage), name: source.name, options: NVRTC.options(architecture: architecture))
                    } catch {
                        XCTFail("\(label): \(error)")
                        continue
                    }
                    XCTAssertEqual(output.log, "", "\(label): NVRTC warned")
                    let ptx = String(decoding: output.ptx, as: UTF8.self)
                    XCTAssertTrue(ptx.contains(".target sm_\(architecture)"), "\(label): PTX not for sm_\(architecture)")
                    for function in source.functions {
                        XCTAssertTrue(ptx.contains(".entry \(function)("), "\(label) does not define \(function)")
                    }
                }
            }
        }
    }

    /// The two storages are different programs: float32 storage loads 4-byte elements where
    /// bfloat16 storage loads 2-byte ones, and families with fixed types compile once.
    func testStoragesCompileToDifferentCode() throws {
        let nvrtc = try loadNVRTC()
        let options = NVRTC.options(architecture: "90")
        let bf16 = String(decoding: try nvrtc.compile(CUDAKernelSource.elementwise.text(.bfloat16), name: "e.cu", options: options).ptx, as: UTF8.self)
        let f32 = String(decoding: try nvrtc.compile(CUDAKernelSource.elementwise.text(.float32), name: "e.cu", options: options).ptx, as: UTF8.self)
        XCTAssertTrue(bf16.contains("ld.global.u16"), "bfloat16 residual_add reads 16-bit elements")
        XCTAssertFalse(f32.contains("ld.global.u16"), "float32 residual_add reads no 16-bit elements")
        XCTAssertTrue(f32.contains("ld.global.f32"), "float32 residual_add reads float32 elements")
        XCTAssertEqual(CUDAKernelSource.conversion.storages, [.bfloat16])
        XCTAssertEqual(CUDAKernelSource.sampling.storages, [.bfloat16])
        XCTAssertEqual(CUDAKernelSource.attention.storages, [.bfloat16, .float32])
    }

    func testEntryPointsAreUnique() {
        let names = CUDAKernelSource.all.flatMap(\.functions)
        XCTAssertEqual(Set(names).count, names.count)
    }

    func testCompileErrorCarriesTheLogOnOneLine() throws {
        let nvrtc = try loadNVRTC()
        XCTAssertThrowsError(try nvrtc.compile("extern \"C\" __global__ void broken() { undefined_name; }", name: "broken.cu",
                                               options: NVRTC.options(architecture: "90"))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("nvrtcCompileProgram(broken.cu): NVRTC_ERROR_COMPILATION"), text)
            XCTAssertTrue(text.contains("undefined_name"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
    }

    func testCacheCompilesOnceAndReusesTheFile() throws {
        let nvrtc = try loadNVRTC()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medtune-kernels-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = KernelCache(folder: folder)
        let source = CUDAKernelSource.conversion
        let ptx = try cache.ptx(for: source, storage: .bfloat16, nvrtc: nvrtc, driverVersion: 13000, architecture: "90")
        let file = cache.file(source: source.text(.bfloat16), options: NVRTC.options(architecture: "90"), driverVersion: 13000, architecture: "90")
        XCTAssertEqual(try Data(contentsOf: file), ptx)
        XCTAssertTrue(file.lastPathComponent.hasSuffix("-13000-sm90.ptx"), file.lastPathComponent)
        // A second call reads the file rather than compiling again.
        try Data("cached".utf8).write(to: file)
        XCTAssertEqual(try cache.ptx(for: source, storage: .bfloat16, nvrtc: nvrtc, driverVersion: 13000, architecture: "90"), Data("cached".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [file.lastPathComponent])
    }
}
