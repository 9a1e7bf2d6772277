import Foundation
import MedtuneCore

/// Texts to measure and check tokenizers on: the parity corpus (whose record entries name
/// fields of the shared medical records rather than copying them) and a long Chinese/English
/// mix built from those records.
public enum TextCorpus {
    public static let recordFiles = ["zh": "medical_o1_zh_sample.jsonl", "en": "medical_o1_en_sample.jsonl"]
    public static let recordFields = ["Question", "Complex_CoT", "Response"]

    /// The records of one shared file, as field → text per line.
    public static func records(_ url: URL) throws -> [[String: String]] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw InputError(file: url.path, "cannot read the records (missing or unreadable)")
        }
        return try data.split(separator: UInt8(ascii: "\n")).enumerated().map { index, line in
            guard let record = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw InputError(file: url.path, at: "line \(index + 1)", "not a JSON object")
            }
            return record.compactMapValues { $0 as? String }
        }
    }

    /// The entries of a corpus file (`Tests/Golden/Tokenizers/corpus.json`) as (key, text).
    public static func entries(corpus: URL, sharedData: URL) throws -> [(key: String, text: String)] {
        var records: [String: [[String: String]]] = [:]
        for (language, name) in recordFiles {
            records[language] = try Self.records(sharedData.appendingPathComponent(name))
        }
        let root = try JSONFields.read(corpus)
        return try root.objects("entries").map { entry in
            let key = try entry.string("key")
            if let text = try entry.optionalString("text") { return (key, text) }
            let parts = key.split(separator: "/").map(String.init)
            guard parts.count == 3, let line = Int(parts[1]), let file = records[parts[0]], file.indices.contains(line),
                  let text = file[line][parts[2]] else {
                throw entry.error("key", "\"\(key)\" names no field of the shared records")
            }
            return (key, text)
        }
    }

    /// About `bytes` of text: the records' fields, Chinese and English records alternating,
    /// repeated until long enough, separated by blank lines.
    public static func mixedText(sharedData: URL, bytes: Int) throws -> String {
        let chinese = try records(sharedData.appendingPathComponent(recordFiles["zh"]!))
        let english = try records(sharedData.appendingPathComponent(recordFiles["en"]!))
        var pieces: [String] = []
        for index in 0..<max(chinese.count, english.count) {
            for file in [chinese, english] where !file.isEmpty {
                let record = file[index % file.count]
                pieces += recordFields.compactMap { record[$0] }
            }
        }
        guard !pieces.isEmpty else { throw InputError(file: sharedData.path, "the shared records are empty") }
        var text = ""
        var index = 0
        while text.utf8.count < bytes {
            text += pieces[index % pieces.count]
            text += "\n\n"
            index += 1
        }
        return text
    }
}
