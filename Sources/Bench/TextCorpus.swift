import Foundation
import MedtuneCore
import Records

/// Texts to measure and check tokenizers on: the parity corpus (whose record entries name
/// fields of the shared medical records rather than copying them) and a long Chinese/English
/// mix built from those records.
public enum TextCorpus {
    public static let recordFiles = ["zh": "medical_o1_zh_sample.jsonl", "en": "medical_o1_en_sample.jsonl"]
    public static let recordFields = ["Question", "Complex_CoT", "Response"]

    /// The records of one shared file, as field → text per line.
    public static func records(_ url: URL) throws -> [[String: String]] {
        try RecordFile.load(url.path).map(\.values)
    }

    /// `corpus.json`: entries with their own text, or naming a field of a shared record
    /// (`zh/12/Question`) instead of copying it.
    private struct CorpusFile: Decodable {
        struct Entry: Decodable { var key: String; var text: String? }
        var entries: [Entry]
    }

    /// The entries of a corpus file (`Tests/Golden/Tokenizers/corpus.json`) as (key, text).
    public static func entries(corpus: URL, sharedData: URL) throws -> [(key: String, text: String)] {
        var records: [String: [[String: String]]] = [:]
        for (language, name) in recordFiles {
            records[language] = try Self.records(sharedData.appendingPathComponent(name))
        }
        guard let data = FileManager.default.contents(atPath: corpus.path) else { throw InputError(file: corpus.path, "cannot read the corpus") }
        let file: CorpusFile
        do { file = try JSONDecoder().decode(CorpusFile.self, from: data) } catch {
            throw InputError(file: corpus.path, "not a corpus file (an object with entries of key and optional text)")
        }
        return try file.entries.enumerated().map { index, entry in
            if let text = entry.text { return (entry.key, text) }
            let parts = entry.key.split(separator: "/").map(String.init)
            guard parts.count == 3, let line = Int(parts[1]), let records = records[parts[0]], records.indices.contains(line),
                  let text = records[line][parts[2]] else {
                throw InputError(file: corpus.path, at: "entries[\(index)].key", "\"\(entry.key)\" names no field of the shared records")
            }
            return (entry.key, text)
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
