import MedtuneCore
import TestSupport
import Transformer
import XCTest

/// The cached, batched, padded forward passes agree with the plain one.
final class ForwardConsistencyTests: XCTestCase {
    func testCachedDecodingMatchesFullForward() {
        let model: Qwen2Model<Double> = TinyQwen.make()
        let tokens: [Int32] = [1, 4, 9, 2, 7, 10, 3]
        let full = model.logits(tokens: tokens, pass: ForwardPass(batch: 1, length: tokens.count), rows: Array(0..<tokens.count))
        let cache = model.makeCache(batch: 1, capacity: 16)
        let prefill = model.logits(tokens: Array(tokens[0..<4]), pass: ForwardPass(batch: 1, length: 4), cache: cache, rows: [3])
        assertRow(prefill, 0, equals: full, 3)
        for t in 4..<tokens.count {
            let step = model.logits(tokens: [tokens[t]], pass: ForwardPass(batch: 1, length: 1, positions: [t]), cache: cache, rows: [0])
            assertRow(step, 0, equals: full, t)
        }
        XCTAssertEqual(cache.length, tokens.count)
    }

    func testLeftPaddedBatchMatchesEachSequenceAlone() {
        let model: Qwen2Model<Double> = TinyQwen.make()
        let short: [Int32] = [5, 2, 8], long: [Int32] = [1, 4, 9, 2, 7]
        let alone = [short, long].map { model.logits(tokens: $0, pass: ForwardPass(batch: 1, length: $0.count), rows: [$0.count - 1]) }
        let pad: Int32 = 0
        let tokens = [pad, pad] + short + long
        let mask: [UInt8] = [0, 0, 1, 1, 1,  1, 1, 1, 1, 1]
        let positions = [0, 0, 0, 1, 2,  0, 1, 2, 3, 4]
        let cache = model.makeCache(batch: 2, capacity: 8)
        let batched = model.logits(tokens: tokens, pass: ForwardPass(batch: 2, length: 5, positions: positions, keyMask: mask),
                                   cache: cache, rows: [4, 9])
        assertRow(batched, 0, equals: alone[0], 0)
        assertRow(batched, 1, equals: alone[1], 0)
        // One decoding step for both, still padded on the left.
        let next: [Int32] = [3, 6]
        let stepMask: [UInt8] = mask.prefix(5) + [1] + mask.suffix(5) + [1]
        let step = model.logits(tokens: next, pass: ForwardPass(batch: 2, length: 1, positions: [3, 5], keyMask: stepMask), cache: cache, rows: [0, 1])
        let shortNext = model.logits(tokens: short + [3], pass: ForwardPass(batch: 1, length: 4), rows: [3])
        let longNext = model.logits(tokens: long + [6], pass: ForwardPass(batch: 1, length: 6), rows: [5])
        assertRow(step, 0, equals: shortNext, 0)
        assertRow(step, 1, equals: longNext, 0)
    }

    /// float32 decoding steps (their own code path) of a left-padded batch, adapters on and off,
    /// agree with the full forward of each sequence alone.
    func testFloatDecodingStepsMatchEachSequenceAlone() {
        let model: Qwen2Model<Float> = TinyQwen.make(seed: 4)
        let short: [Int32] = [5, 2], long: [Int32] = [1, 4, 9, 2]
        for useAdapter in [true, false] {
            let cache = model.makeCache(batch: 2, capacity: 8)
            var mask: [UInt8] = [0, 0, 1, 1,  1, 1, 1, 1]
            _ = model.logits(tokens: [0, 0] + short + long, pass: ForwardPass(batch: 2, length: 4, positions: [0, 0, 0, 1, 0, 1, 2, 3],
                                                                              keyMask: mask, useAdapter: useAdapter),
                             cache: cache, rows: [3, 7])
            var sequences = [short, long]
            for next: [Int32] in [[3, 6], [7, 10], [8, 1]] {
                mask = Array(mask[0..<cache.length]) + [1] + Array(mask[cache.length...]) + [1]
                let step = model.logits(tokens: next, pass: ForwardPass(batch: 2, length: 1, positions: sequences.map(\.count),
                                                                        keyMask: mask, useAdapter: useAdapter),
                                        cache: cache, rows: [0, 1])
                for b in 0..<2 {
                    sequences[b].append(next[b])
                    let alone = model.logits(tokens: sequences[b], pass: ForwardPass(batch: 1, length: sequences[b].count, useAdapter: useAdapter),
                                             rows: [sequences[b].count - 1])
                    for c in 0..<model.vocabulary {
                        XCTAssertEqual(step[b * model.vocabulary + c], alone[c], accuracy: 1e-5, "adapter \(useAdapter), sequence \(b)")
                    }
                }
            }
        }
    }

    /// A left-padded batch longer than one attention block and one MLP block (inference runs
    /// both in blocks) gives, at every position, the logits of feeding each sequence alone one
    /// token at a time through the cache.
    func testLongBatchedPromptMatchesTokenByToken() {
        let model: Qwen2Model<Double> = TinyQwen.make(seed: 6)
        var rng = SplitMix64(seed: 11)
        let lengths = [300, 261]
        let sequences = lengths.map { n in (0..<n).map { _ in Int32(rng.next() % UInt64(model.vocabulary)) } }
        let longest = lengths.max()!
        var tokens: [Int32] = [], mask: [UInt8] = [], positions: [Int] = []
        for sequence in sequences {
            let padding = longest - sequence.count
            tokens += Array(repeating: 0, count: padding) + sequence
            mask += Array(repeating: 0, count: padding) + Array(repeating: 1, count: sequence.count)
            positions += Array(repeating: 0, count: padding) + Array(0..<sequence.count)
        }
        let checked = Array(stride(from: 0, to: longest, by: 23)) + [longest - 1]
        let rows = (0..<2).flatMap { b in checked.filter { $0 >= longest - lengths[b] }.map { b * longest + $0 } }
        let batched = model.logits(tokens: tokens, pass: ForwardPass(batch: 2, length: longest, positions: positions, keyMask: mask), rows: rows)
        for (b, sequence) in sequences.enumerated() {
            let cache = model.makeCache(batch: 1, capacity: sequence.count)
            for (t, token) in sequence.enumerated() {
                let step = model.logits(tokens: [token], pass: ForwardPass(batch: 1, length: 1, positions: [t]), cache: cache, rows: [0])
                if let i = rows.firstIndex(of: b * longest + longest - sequence.count + t) { assertRow(batched, i, equals: step, 0) }
            }
        }
    }

    func testAdapterSwitchedOffIsTheBaseModelBitForBit() {
        var withAdapters = TinyQwen.Shape()
        withAdapters.targets = ["q_proj", "v_proj", "down_proj"]
        var none = withAdapters
        none.targets = []
        let adapted: Qwen2Model<Float> = TinyQwen.make(withAdapters, seed: 3)
        let base: Qwen2Model<Float> = TinyQwen.make(none, seed: 3)
        let tokens: [Int32] = [1, 4, 9, 2]
        let pass = ForwardPass(batch: 1, length: 4)
        let off = model(adapted, tokens, ForwardPass(batch: 1, length: 4, useAdapter: false))
        let plain = model(base, tokens, pass)
        let on = model(adapted, tokens, pass)
        XCTAssertEqual(off, plain)
        XCTAssertNotEqual(on, plain)
    }

    private func model(_ m: Qwen2Model<Float>, _ tokens: [Int32], _ pass: ForwardPass) -> [Float] {
        m.logits(tokens: tokens, pass: pass, rows: Array(0..<tokens.count)).array
    }

    private func assertRow(_ a: Tensor<Double>, _ i: Int, equals b: Tensor<Double>, _ j: Int, file: StaticString = #filePath, line: UInt = #line) {
        let n = a.shape[1]
        for c in 0..<n { XCTAssertEqual(a[i * n + c], b[j * n + c], accuracy: 1e-10, file: file, line: line) }
    }
}
