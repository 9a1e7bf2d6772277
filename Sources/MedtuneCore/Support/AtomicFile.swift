import Foundation

/// Writes a file so that readers see the old contents or the new, never a torn mix: the bytes go
/// to a temporary name in the same folder, are flushed to disk, and the temporary file is renamed
/// over the target. A failed write (disk full, say) removes the temporary file and leaves the old
/// file untouched.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        try write(to: path) { handle in try handle.write(contentsOf: data) }
    }

    /// Lets `body` write through a file handle, then publishes the file under `path`. `check`
    /// reads the complete, flushed temporary file (its path given) before it is published: a file
    /// it rejects never appears.
    public static func write(to path: String, _ body: (FileHandle) throws -> Void,
                             check: (String) throws -> Void = { _ in }) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).incomplete")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw SystemError("\(path): cannot create \(temporary.lastPathComponent) (\(String(cString: strerror(errno))))")
        }
        do {
            let handle = try FileHandle(forWritingTo: temporary)
            defer { try? handle.close() }
            try body(handle)
            try handle.synchronize()
            try check(temporary.path)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw SystemError("\(path): write failed, previous contents kept (\(SystemError.reason(of: error)))")
        }
        guard rename(temporary.path, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw SystemError("\(path): cannot replace the file (\(reason))")
        }
    }
}
