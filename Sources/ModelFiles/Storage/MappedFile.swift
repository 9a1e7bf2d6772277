import Foundation
import MedtuneCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory.
///
/// Weights are read straight from the mapping, so loading a model costs page-table entries, not a
/// copy: the kernel pages bytes in when a kernel first touches them and may drop them again under
/// memory pressure. The mapping lives as long as any tensor that points into it.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let byteCount: Int
    private let base: UnsafeRawPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw InputError(file: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw InputError(file: path, "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw InputError(file: path, "not a regular file")
        }
        byteCount = Int(info.st_size)
        // Neither format has a valid empty file, and mmap refuses zero-length mappings.
        guard byteCount > 0 else { throw InputError(file: path, "empty file") }
        let mapped = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw InputError(file: path, "cannot map \(byteCount) bytes: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
    }

    /// Anonymous memory of `byteCount` bytes written once by `fill`, then read like a file's
    /// mapping: weights that exist in no file (random models of a given shape, for measurements).
    public init(anonymous byteCount: Int, name: String, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        path = name
        self.byteCount = byteCount
        guard byteCount > 0 else { throw InputError(file: name, "empty buffer") }
        let mapped = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw SystemError("cannot allocate \(byteCount) bytes for \(name): \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
        do {
            try fill(UnsafeMutableRawBufferPointer(start: mapped, count: byteCount))
        } catch {
            munmap(mapped, byteCount)
            throw error
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), byteCount)
    }

    /// All bytes of the file.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: byteCount) }

    /// A pointer `offset` bytes into the file; the caller has checked `offset + length <= byteCount`.
    func pointer(at offset: Int) -> UnsafeRawPointer { base + offset }
}
