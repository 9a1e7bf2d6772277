import Foundation

/// Per-token weights of BERTScore's precision and recall sums.
///
/// With idf, a token's weight is ln((M+1)/(df+1)), where M is the number of reference sentences
/// (every reference of every candidate, duplicates included) and df the number of them that contain
/// the token; a token no reference contains gets ln(M+1). [CLS] and [SEP], present in every
/// reference, get ln(1) = 0 by that same rule. Without idf every token weighs 1 except the
/// tokenizer's `zeroWeightIDs`. This is bert_score's `get_idf_dict` and its default dictionary.
public struct IDFWeights: Sendable {
    private let table: [Int: Double]
    private let unseen: Double

    public static func uniform(zeroWeightIDs: Set<Int>) -> IDFWeights {
        IDFWeights(table: Dictionary(uniqueKeysWithValues: zeroWeightIDs.map { ($0, 0) }), unseen: 1)
    }

    /// `references` are the reference sentences as token ids.
    public static func fromReferences(_ references: [[Int]]) -> IDFWeights {
        var documentFrequency: [Int: Int] = [:]
        for ids in references {
            for id in Set(ids) { documentFrequency[id, default: 0] += 1 }
        }
        let m = Double(references.count)
        return IDFWeights(table: documentFrequency.mapValues { Foundation.log((m + 1) / (Double($0) + 1)) },
                          unseen: Foundation.log(m + 1))
    }

    public func weight(_ id: Int) -> Double { table[id] ?? unseen }
}
