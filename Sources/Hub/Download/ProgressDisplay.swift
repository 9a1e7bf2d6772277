import Foundation

/// One status line on standard error, redrawn as bytes arrive: the file most recently active,
/// its share, and the total. Each finished file leaves a line of its own. Silent when disabled
/// (standard error not a terminal), so logs and pipes stay clean; only notes still go out.
final class ProgressDisplay: @unchecked Sendable {
    private let enabled: Bool
    private let notices: (String) -> Void
    private let lock = NSLock()
    private var totalFiles = 0
    private var totalBytes: Int64 = 0
    private var doneBytes: Int64 = 0
    /// Bytes that came over the network in this run, for the rate.
    private var transferred: Int64 = 0
    private var finishedFiles = 0
    private var fileSizes: [String: Int64] = [:]
    private var fileBytes: [String: Int64] = [:]
    private var current: String?
    private var lastDraw = Date.distantPast
    private let started = Date()

    init(output: ProgressOutput, notices: @escaping (String) -> Void) {
        enabled = output == .automatic && isatty(STDERR_FILENO) == 1
        self.notices = notices
    }

    /// The files of this download, once the listing has named them.
    func begin(files: [(path: String, size: Int64?)]) {
        lock.lock(); defer { lock.unlock() }
        totalFiles = files.count
        totalBytes = files.reduce(0) { $0 + ($1.size ?? 0) }
        for file in files { fileSizes[file.path] = file.size }
    }

    /// A line of its own, such as a retry after a failure, so a long pause is not a mystery.
    /// Unlike progress it is never suppressed.
    func note(_ text: String) {
        lock.lock(); defer { lock.unlock() }
        if enabled { write("\r\u{1B}[K") }
        notices(text)
    }

    func advance(_ path: String, by count: Int64) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        fileBytes[path, default: 0] += count
        doneBytes += count
        transferred += count
        current = path
        if Date().timeIntervalSince(lastDraw) >= 0.2 { draw() }
    }

    /// The file starts over from `bytes` (a restart from zero, or bytes found on disk).
    func restart(_ path: String, at bytes: Int64) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        doneBytes += bytes - fileBytes[path, default: 0]
        fileBytes[path] = bytes
    }

    func finish(_ path: String, size: Int64, downloaded: Bool) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        finishedFiles += 1
        doneBytes += size - fileBytes[path, default: 0]
        fileBytes[path] = size
        if current == path { current = nil }
        write("\r\u{1B}[K  \(downloaded ? "downloaded" : "up to date")  \(path)  \(Self.bytes(size))\n")
        draw()
    }

    func end() {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        write("\r\u{1B}[K")
    }

    private func draw() {
        lastDraw = Date()
        var line = "[\(finishedFiles)/\(totalFiles) files]"
        if let current {
            let have = fileBytes[current, default: 0]
            line += "  \(current) " + (fileSizes[current].flatMap { $0 > 0 ? "\(have * 100 / $0)%" : nil } ?? Self.bytes(have))
        }
        line += "  total \(Self.bytes(doneBytes))" + (totalBytes > 0 ? " of \(Self.bytes(totalBytes))" : "")
        let seconds = Date().timeIntervalSince(started)
        if seconds > 1 { line += "  \(Self.bytes(Int64(Double(transferred) / seconds)))/s" }
        write("\r\u{1B}[K" + line)
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}
