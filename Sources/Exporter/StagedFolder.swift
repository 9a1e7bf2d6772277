import Foundation
import MedtuneCore

/// A folder that appears only when it is complete: it is built under a temporary name beside its
/// place and renamed there at the end, so a failed export or merge leaves nothing that looks
/// finished, and a folder already holding something is never written into. A single output file
/// (a merged GGUF) takes the same route through `AtomicFile`, after `checkFree(file:)`.
enum StagedFolder {
    /// Refuses a `file` that exists (the base model itself, say): called first, before any work.
    static func checkFree(file: String, what: String) throws {
        guard !FileManager.default.fileExists(atPath: file) else {
            throw InputError(file: file, "already exists; write the \(what) to a new file (--output)")
        }
    }

    /// Refuses a `folder` that exists and is not an empty folder: called first, before any work.
    static func checkFree(_ folder: String, what: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue, (try? FileManager.default.contentsOfDirectory(atPath: folder))?.isEmpty == true else {
            throw InputError(file: folder, "already exists and is not an empty folder; write the \(what) into a new folder (--output)")
        }
    }

    static func create<R>(_ folder: String, what: String, _ build: (String) throws -> R) throws -> R {
        let fm = FileManager.default
        try checkFree(folder, what: what)
        let staging = "\(folder).incomplete-\(UUID().uuidString)"
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
            let result = try build(staging)
            if fm.fileExists(atPath: folder) { try fm.removeItem(atPath: folder) }
            try fm.moveItem(atPath: staging, toPath: folder)
            return result
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
    }
}
