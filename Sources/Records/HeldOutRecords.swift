import Foundation
import MedtuneCore

/// The records a training run kept out of training: `heldout_ids.json` in the run folder, beside
/// the adapter, a JSON array of 0-based record indices into the data file. `medtune train` writes
/// it; `compare` and `score` read it, so that an adapter is judged on records it never saw.
public enum HeldOutRecords {
    public static let fileName = "heldout_ids.json"

    /// The file's path in `folder`.
    public static func path(in folder: String) -> String { folder + "/" + fileName }

    /// Writes the indices to `folder`'s file, atomically.
    public static func write(_ indices: [Int], in folder: String) throws {
        try AtomicFile.write(JSONEncoder().encode(indices), to: path(in: folder))
    }

    /// The file beside an adapter: in the adapter's folder or, for a checkpoint inside a run folder
    /// (`checkpoint-best/`), in the run folder; nil when neither has one. Every index must be one
    /// of the data file's `recordCount` records.
    public static func read(besideAdapter directory: String, recordCount: Int) throws -> (path: String, indices: [Int])? {
        let folder = URL(fileURLWithPath: directory)
        let candidates = [folder, folder.deletingLastPathComponent()].map { $0.appendingPathComponent(fileName).path }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else { return nil }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw InputError(file: path, "cannot read: \(error.localizedDescription)")
        }
        guard let array = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
            throw InputError(file: path, "must be a JSON array of record indices")
        }
        let indices = try array.enumerated().map { position, value in
            guard let index = value as? Int, (0..<recordCount).contains(index) else {
                throw InputError(file: path, at: "entry \(position)", "\(value) is not a record index of the data file (0...\(recordCount - 1))")
            }
            return index
        }
        return (path, indices)
    }
}
