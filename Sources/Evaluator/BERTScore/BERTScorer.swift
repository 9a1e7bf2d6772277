import Foundation
import MedtuneCore

/// How to compute BERTScore.
public struct BERTScoreOptions: Sendable {
    /// Hidden layer whose states are compared (bert_score's `num_layers`).
    public var layer: Int
    /// Weight tokens by inverse document frequency over the references.
    public var idf: Bool
    /// Rescale with this baseline (bert_score's `rescale_with_baseline` with `baseline_path`).
    public var baseline: RescaleBaseline?
    /// bert_score's `batch_size`: it decides which sentences bert_score pads, which can change a
    /// score (see `GreedyMatching`), so it is part of the definition, not a speed knob.
    public var referenceBatchSize: Int = 64
    /// Tokens encoded per chunk: bounds memory however many pairs there are.
    public var tokensPerChunk: Int = 16_384

    public init(layer: Int, idf: Bool = false, baseline: RescaleBaseline? = nil) {
        self.layer = layer
        self.idf = idf
        self.baseline = baseline
    }
}

/// Scores of every candidate, in input order, with the settings string and any warnings.
public struct BERTScoreResult: Sendable {
    public var scores: [PRF]
    public var hash: ScoreHash
    public var warnings: [String]

    /// Mean P, R and F1 over candidates.
    public var mean: PRF {
        let n = Double(scores.count)
        return PRF(precision: scores.map(\.precision).reduce(0, +) / n, recall: scores.map(\.recall).reduce(0, +) / n,
                   f1: scores.map(\.f1).reduce(0, +) / n)
    }
}

/// BERTScore as the `bert_score` package (0.3.13) computes it, over any `ContextualEncoder`.
///
/// Per candidate/reference pair: both sentences tokenized as bert_score does (`SentenceTokenizer`),
/// encoded, the chosen layer's token vectors normalised, greedily matched (`GreedyMatching`) with
/// idf or uniform weights (`IDFWeights`). A candidate with several references keeps, for each of
/// P, R and F1 separately, the best over its references; then the baseline rescaling, if any.
/// An empty candidate or reference scores 0, with a warning.
///
/// Work is ordered by length and done in chunks of about `tokensPerChunk` tokens: the encoder gets
/// sentences of similar length together, and memory stays bounded for any number of pairs.
public final class BERTScorer: Sendable {
    public let tokenizer: SentenceTokenizer
    public let encoder: ContextualEncoder
    /// The name in the settings string: the model's folder or hub name.
    public let modelName: String
    public let options: BERTScoreOptions

    public init(tokenizer: SentenceTokenizer, encoder: ContextualEncoder, modelName: String, options: BERTScoreOptions) throws {
        guard (0...encoder.layerCount).contains(options.layer) else {
            throw InputError(at: "--num-layers", "\(modelName) has \(encoder.layerCount) layers; choose a layer from 0 to \(encoder.layerCount), not \(options.layer)")
        }
        if let baseline = options.baseline { _ = try baseline.baseline(layer: options.layer) }
        self.tokenizer = tokenizer
        self.encoder = encoder
        self.modelName = modelName
        self.options = options
    }

    public var hash: ScoreHash {
        ScoreHash(model: modelName, layer: options.layer, idf: options.idf, rescaled: options.baseline != nil)
    }

    public func score(candidates: [String], references: [String]) throws -> BERTScoreResult {
        try score(candidates: candidates, references: references.map { [$0] })
    }

    /// `references[i]` holds one or more references for `candidates[i]`.
    public func score(candidates: [String], references: [[String]]) throws -> BERTScoreResult {
        guard candidates.count == references.count else {
            throw InputError("\(candidates.count) candidates but \(references.count) references: they must pair up one to one")
        }
        if let i = references.firstIndex(where: \.isEmpty) {
            throw InputError(at: "candidate \(i + 1)", "has no reference")
        }
        // One pair per (candidate, reference), as bert_score flattens several references.
        var pairCandidates: [String] = [], pairReferences: [String] = [], groups: [Range<Int>] = []
        for (candidate, group) in zip(candidates, references) {
            groups.append(pairCandidates.count..<(pairCandidates.count + group.count))
            pairCandidates += Array(repeating: candidate, count: group.count)
            pairReferences += group
        }

        let sentences = SentenceTable(pairCandidates + pairReferences, tokenizer: tokenizer)
        let candidateIndex = Array(sentences.index[..<pairCandidates.count])
        let referenceIndex = Array(sentences.index[pairCandidates.count...])
        let weights = options.idf
            ? IDFWeights.fromReferences(referenceIndex.map { sentences.ids[$0] })
            : IDFWeights.uniform(zeroWeightIDs: tokenizer.zeroWeightIDs)
        let emptyLength = tokenizer.encode("").count
        let padding = paddingFlags(candidates: candidateIndex.map { sentences.ids[$0].count },
                                   references: referenceIndex.map { sentences.ids[$0].count })
        func side(_ sentence: Int, padded: Bool, states: TokenStates, row: Int) -> GreedyMatching.Side {
            GreedyMatching.Side(vectors: states.rows(row), weights: sentences.ids[sentence].map(weights.weight),
                                padded: padded, empty: sentences.ids[sentence].count == emptyLength)
        }

        var raw = [PRF](repeating: PRF(precision: 0, recall: 0, f1: 0), count: pairCandidates.count)
        for chunk in chunks(candidateIndex: candidateIndex, referenceIndex: referenceIndex, sentences: sentences) {
            let states = try encoder.hiddenStates(ids: chunk.sentences.map { sentences.ids[$0] }, layer: options.layer)
            GreedyMatching.normalizeRows(states.values.pointer, rows: states.offsets.last!, dimension: states.width)
            let row = Dictionary(uniqueKeysWithValues: chunk.sentences.enumerated().map { ($1, $0) })
            raw.withUnsafeMutableBufferPointer { out in
                OpenBLAS.shared.withOneThread {
                    Parallel.forEach(chunk.pairs.count) { k in
                        let pair = chunk.pairs[k]
                        let c = row[candidateIndex[pair]]!, r = row[referenceIndex[pair]]!
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(states.length(c) * states.length(r), 1))
                        defer { scratch.deallocate() }
                        out[pair] = GreedyMatching.score(
                            candidate: side(candidateIndex[pair], padded: padding.candidate[pair], states: states, row: c),
                            reference: side(referenceIndex[pair], padded: padding.reference[pair], states: states, row: r),
                            dimension: states.width, scratch: scratch)
                    }
                }
            }
        }

        var warnings: [String] = []
        if candidateIndex.contains(where: { sentences.ids[$0].count == emptyLength }) {
            warnings.append("empty candidate sentence detected; its raw BERTScores are set to 0")
        }
        if referenceIndex.contains(where: { sentences.ids[$0].count == emptyLength }) {
            warnings.append("empty reference sentence detected; its raw BERTScores are set to 0")
        }

        var scores = groups.map { group -> PRF in
            let members = raw[group]
            return PRF(precision: nanMax(members.map(\.precision)), recall: nanMax(members.map(\.recall)),
                       f1: nanMax(members.map(\.f1)))
        }
        if let baseline = options.baseline {
            let b = try baseline.baseline(layer: options.layer)
            scores = scores.map { RescaleBaseline.rescale($0, by: b) }
        }
        return BERTScoreResult(scores: scores, hash: hash, warnings: warnings)
    }

    /// Which pairs bert_score pads: it matches pairs in batches of `referenceBatchSize` in input
    /// order, padding each sentence to the longest of its side of the batch.
    private func paddingFlags(candidates: [Int], references: [Int]) -> (candidate: [Bool], reference: [Bool]) {
        var candidatePadded = [Bool](repeating: false, count: candidates.count)
        var referencePadded = candidatePadded
        for start in stride(from: 0, to: candidates.count, by: options.referenceBatchSize) {
            let batch = start..<min(start + options.referenceBatchSize, candidates.count)
            let longestCandidate = candidates[batch].max()!, longestReference = references[batch].max()!
            for i in batch {
                candidatePadded[i] = candidates[i] < longestCandidate
                referencePadded[i] = references[i] < longestReference
            }
        }
        return (candidatePadded, referencePadded)
    }

    private struct Chunk {
        var pairs: [Int] = []
        var sentences: [Int] = []
    }

    /// Pairs grouped, longest first, into chunks whose distinct sentences hold about
    /// `tokensPerChunk` tokens.
    private func chunks(candidateIndex: [Int], referenceIndex: [Int], sentences: SentenceTable) -> [Chunk] {
        let order = candidateIndex.indices.sorted {
            let a = sentences.ids[candidateIndex[$0]].count + sentences.ids[referenceIndex[$0]].count
            let b = sentences.ids[candidateIndex[$1]].count + sentences.ids[referenceIndex[$1]].count
            return a != b ? a > b : $0 < $1
        }
        var chunks: [Chunk] = []
        var current = Chunk(), seen = Set<Int>(), tokens = 0
        for pair in order {
            let needed = Set([candidateIndex[pair], referenceIndex[pair]])
            if !current.pairs.isEmpty,
               tokens + needed.subtracting(seen).reduce(0, { $0 + sentences.ids[$1].count }) > options.tokensPerChunk {
                chunks.append(current)
                current = Chunk()
                seen = []
                tokens = 0
            }
            for s in [candidateIndex[pair], referenceIndex[pair]] where seen.insert(s).inserted {
                current.sentences.append(s)
                tokens += sentences.ids[s].count
            }
            current.pairs.append(pair)
        }
        if !current.pairs.isEmpty { chunks.append(current) }
        return chunks
    }
}

/// Largest value, or NaN when any value is NaN (torch's `max`).
func nanMax(_ values: [Double]) -> Double {
    if values.contains(where: \.isNaN) { return .nan }
    return values.max() ?? .nan
}

/// Distinct sentences with their token ids; `index[k]` is the row of the k-th input sentence.
struct SentenceTable {
    var ids: [[Int]] = []
    var index: [Int] = []

    init(_ texts: [String], tokenizer: SentenceTokenizer) {
        // Keyed by UTF-8 bytes: Swift's String equality would merge canonically equivalent texts
        // that a tokenizer may treat differently.
        var rows: [[UInt8]: Int] = [:]
        var distinct: [String] = []
        for text in texts {
            let key = Array(text.utf8)
            if let row = rows[key] {
                index.append(row)
            } else {
                rows[key] = distinct.count
                index.append(distinct.count)
                distinct.append(text)
            }
        }
        var encoded = [[Int]](repeating: [], count: distinct.count)
        encoded.withUnsafeMutableBufferPointer { out in
            Parallel.forEach(distinct.count) { out[$0] = tokenizer.encode(distinct[$0]) }
        }
        ids = encoded
    }
}
