import Bench
import Foundation
import TestSupport
import Tokenizers
import XCTest

/// The parity corpus (Tests/Golden/Tokenizers/corpus.json): hand-written and mixed strings
/// inline, medical records resolved from ../shared/data by key.
struct ParityCorpus {
    let entries: [(key: String, text: String)]

    static let shared: Result<ParityCorpus, Error> = Result {
        let sharedData = try TestPaths.require(TestPaths.sharedData)
        return ParityCorpus(entries: try TextCorpus.entries(corpus: TestPaths.golden("Tokenizers/corpus.json"), sharedData: sharedData))
    }
}

/// Reference ids for the corpus from one golden file: whole arrays, or "count:fnv1a64" for long
/// sequences (see scripts/golden/tokenizers_golden.py).
struct GoldenIds {
    let ids: [String: Any]
    let plainText: [String: Any]
    let raw: [String: Any]

    init(_ name: String) throws {
        raw = try JSONSerialization.jsonObject(with: Data(contentsOf: TestPaths.golden("Tokenizers/\(name)"))) as! [String: Any]
        ids = raw["ids"] as! [String: Any]
        plainText = raw["plainText"] as? [String: Any] ?? [:]
    }

    /// nil when `actual` matches the stored value; otherwise what the reference has.
    static func mismatch(_ actual: [Int], _ expected: Any) -> String? {
        if let whole = expected as? [Int] {
            return whole == actual ? nil : "\(whole)"
        }
        let compact = expected as! String
        return compact == fingerprint(actual) ? nil : compact
    }

    static func fingerprint(_ ids: [Int]) -> String {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for id in ids {
            for shift in stride(from: 0, to: 32, by: 8) {
                value = (value ^ UInt64((UInt32(truncatingIfNeeded: id) >> UInt32(shift)) & 0xFF)) &* 0x100_0000_01B3
            }
        }
        let hex = String(value, radix: 16)
        return "\(ids.count):\(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }
}
