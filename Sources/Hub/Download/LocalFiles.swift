import Foundation

/// Writes whole chunks at an offset. A value rather than a direct `pwrite` call so that tests can
/// imitate a full disk.
struct ChunkWriter: Sendable {
    var write: @Sendable (_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ offset: Int64) throws -> Void

    static let posix = ChunkWriter { fd, bytes, offset in
        var done = 0
        while done < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if written < 0 {
                if errno == EINTR { continue }
                throw WriteFailure(code: errno)
            }
            done += written
        }
    }
}

struct WriteFailure: Error {
    let code: Int32
    var isDiskFull: Bool { code == ENOSPC || code == EDQUOT }
    var message: String { String(cString: strerror(code)) }
}

/// Rules for file names that come from a server: they must stay inside the download folder.
enum SafePath {
    /// medtune's record of what a folder holds; no repository file may take its name.
    static let manifestName = ".medtune-download.json"
    static let incompleteSuffix = ".incomplete"

    /// Why `name` cannot be written under a folder, or nil when it can.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.contains(0) { return "contains a NUL byte" }
        if name.contains("\\") { return "contains a backslash" }
        if name.hasPrefix("/") { return "is an absolute path" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return "contains a control character" }
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        if components.contains("..") { return "climbs out of the download folder with '..'" }
        if components.contains(where: { $0.isEmpty || $0 == "." }) { return "has an empty or '.' path component" }
        if name.hasPrefix(manifestName) || name.hasSuffix(incompleteSuffix) { return "collides with medtune's own bookkeeping files" }
        return nil
    }

    /// The location of `relative` under `root`, creating the folders between them. Any folder on
    /// the way, and the file itself, that is a symbolic link must resolve inside `root`.
    static func prepare(_ relative: String, under root: URL, repo: String) throws -> URL {
        let rootReal = try realPath(root.path)
        var current = root.path
        let components = relative.split(separator: "/").map(String.init)
        for (index, component) in components.enumerated() {
            current += "/" + component
            let isLast = index == components.count - 1
            var info = stat()
            if lstat(current, &info) != 0 {
                guard errno == ENOENT else { throw fileSystemError(current) }
                if isLast { break }
                if mkdir(current, 0o755) != 0 && errno != EEXIST { throw fileSystemError(current) }
                continue
            }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                let target = try realPath(current)
                guard target == rootReal || target.hasPrefix(rootReal + "/") else {
                    throw HubError.unsafeFileName(repo: repo, name: relative,
                                                  reason: "would be written outside \(root.path) through the symbolic link \(current)")
                }
            }
            if !isLast && stat(current, &info) == 0 && (info.st_mode & S_IFMT) != S_IFDIR {
                throw HubError.fileSystem(path: current, message: "exists and is not a folder")
            }
        }
        return URL(fileURLWithPath: current)
    }

    static func realPath(_ path: String) throws -> String {
        guard let resolved = realpath(path, nil) else { throw fileSystemError(path) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func fileSystemError(_ path: String, _ code: Int32 = errno) -> HubError {
        .fileSystem(path: path, message: String(cString: strerror(code)))
    }
}

/// `--include`/`--exclude` patterns, matched like the hubs' own tools do (shell globs over the
/// whole path, where `*` also crosses `/`; a pattern ending in `/` means everything below it).
struct FileFilter {
    var include: [String]
    var exclude: [String]

    func accepts(_ path: String) -> Bool {
        (include.isEmpty || include.contains { Self.matches($0, path) }) && !exclude.contains { Self.matches($0, path) }
    }

    private static func matches(_ pattern: String, _ path: String) -> Bool {
        let full = pattern.hasSuffix("/") ? pattern + "*" : pattern
        return fnmatch(full, path, 0) == 0
    }
}
