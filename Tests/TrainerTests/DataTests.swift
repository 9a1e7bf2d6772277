import Foundation
import MedtuneCore
import Records
import TestSupport
@testable import Trainer
import XCTest

final class DataTests: XCTestCase {
    let ignore = CrossEntropy.ignoreIndex
    var directory: URL!

    override func setUpWithError() throws { directory = try TestPaths.temporaryDirectory("medtune-data") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func tinyTemplate(_ edit: (inout TrainingConfig) -> Void = { _ in }) -> TrainingConfig {
        Fixture.config { c in
            c.promptTemplate = "Q:{Question}|"
            c.analysisTemplate = "{Complex_CoT}|"
            c.answerTemplate = "{Response}"
            c.shuffle = false
            edit(&c)
        }
    }

    func example(_ config: TrainingConfig, _ record: [String: String] = ["Question": "ab", "Complex_CoT": "c", "Response": "d"]) throws -> TrainingExample {
        let records = Fixture.records([record])
        return try ExampleBuilder(config: config, records: records, file: "d.jsonl").example(records[0], tokenizer: ByteTokenizer())
    }

    /// Prompt "Q:ab|", analysis "c|", answer "d", EOS: the loss boundary falls exactly between pieces.
    func testLossCoversWhatTheConfigSays() throws {
        let tokens: [Int32] = [81, 58, 97, 98, 124, 99, 124, 100, 256]
        let all = try example(tinyTemplate { $0.lossOn = .all })
        XCTAssertEqual(all.tokens, tokens)
        XCTAssertEqual(all.labels, [58, 97, 98, 124, 99, 124, 100, 256, ignore])
        let afterPrompt = try example(tinyTemplate { $0.lossOn = .afterPrompt })
        XCTAssertEqual(afterPrompt.labels, [ignore, ignore, ignore, ignore, 99, 124, 100, 256, ignore])
        let answerOnly = try example(tinyTemplate { $0.lossOn = .answerOnly })
        XCTAssertEqual(answerOnly.labels, [ignore, ignore, ignore, ignore, ignore, ignore, 100, 256, ignore])
        let noEOS = try example(tinyTemplate { $0.lossOn = .answerOnly; $0.addEOS = false })
        XCTAssertEqual(noEOS.tokens, Array(tokens.dropLast()))
        XCTAssertEqual(noEOS.labelCount, 1)
        let cut = try example(tinyTemplate { $0.maxLength = 6 })
        XCTAssertTrue(cut.truncated)
        XCTAssertEqual(cut.tokens, Array(tokens.prefix(6)))
        XCTAssertEqual(cut.labels, [58, 97, 98, 124, 99, ignore])
    }

    /// A tokenizer that starts every text with BOS gives each record one, never trained on.
    func testRecordsStartWithTheTokenizersBOS() throws {
        struct WithBOS: TrainingTokenizer {
            func encode(_ text: String) throws -> [Int32] { text.utf8.map { Int32($0) } }
            var eosTokenID: Int32 { 256 }
            var bosTokenID: Int32? { 257 }
        }
        let config = tinyTemplate { $0.lossOn = .all }
        let records = Fixture.records([["Question": "ab", "Complex_CoT": "c", "Response": "d"]])
        let e = try ExampleBuilder(config: config, records: records, file: "d.jsonl").example(records[0], tokenizer: WithBOS())
        XCTAssertEqual(e.tokens, [257, 81, 58, 97, 98, 124, 99, 124, 100, 256])
        XCTAssertEqual(e.labels, [81, 58, 97, 98, 124, 99, 124, 100, 256, ignore])
    }

    func testFieldMappingReadsOtherKeys() throws {
        let mapped = try example(tinyTemplate { $0.fields = ["Question": "q", "Response": "r"] },
                                 ["q": "ab", "Complex_CoT": "c", "r": "d"])
        XCTAssertEqual(mapped.tokens, [81, 58, 97, 98, 124, 99, 124, 100, 256])
    }

    func testDefaultTemplateIsTheTutorials() throws {
        let config = Fixture.config()
        let e = try example(config, ["Question": "Q", "Complex_CoT": "C", "Response": "R"])
        let text = String(decoding: e.tokens.dropLast().map { UInt8($0) }, as: UTF8.self)
        XCTAssertEqual(text, "诊断问题：Q\n详细分析：C\n###答案：\nR")
        XCTAssertEqual(e.tokens.last, 256)
        XCTAssertEqual(e.labelCount, e.tokens.count - 1)
    }

    func testRawTextRecordsTrainOnEveryToken() throws {
        let records = Fixture.records([["text": "hi there"], ["text": "x"]])
        let config = Fixture.config { $0.lossOn = .answerOnly }
        let builder = try ExampleBuilder(config: config, records: records, file: "t.jsonl")
        XCTAssertEqual(builder.shape, .text(field: "text"))
        let e = try builder.example(records[0], tokenizer: ByteTokenizer())
        XCTAssertEqual(e.tokens, Array("hi there".utf8).map { Int32($0) } + [256])
        XCTAssertEqual(e.labelCount, 8)
        var withoutEOS = config
        withoutEOS.addEOS = false
        let bare = try ExampleBuilder(config: withoutEOS, records: records, file: "t.jsonl").example(records[0], tokenizer: ByteTokenizer())
        XCTAssertEqual(bare.tokens.count, 8)
        XCTAssertEqual(bare.labelCount, 7)
    }

    func testJSONLAndJSONArrayGiveTheSameRecordsWithLines() throws {
        let jsonl = "{\"Question\": \"a\", \"n\": 3}\n\n{\"Question\": \"b\\n\", \"x\": [1]}\n"
        let array = "[\n  {\"Question\": \"a\", \"n\": 3},\n  {\"Question\": \"b\\n\",\n   \"x\": [1]}\n]\n"
        let a = try RecordFile.parse(Array(jsonl.utf8), file: "a.jsonl")
        let b = try RecordFile.parse(Array(array.utf8), file: "b.json")
        XCTAssertEqual(a.map(\.values), [["Question": "a", "n": "3"], ["Question": "b\n"]])
        XCTAssertEqual(a.map(\.values), b.map(\.values))
        XCTAssertEqual(a.map(\.line), [1, 3])
        XCTAssertEqual(b.map(\.line), [2, 3])
        XCTAssertEqual(a[1].nonText, ["x"])
        XCTAssertEqual(try RecordFile.parse(Array("[]".utf8), file: "e.json"), [])
    }

    func testMalformedJSONNamesFileAndLine() {
        func message(_ text: String) -> String {
            do { _ = try RecordFile.parse(Array(text.utf8), file: "bad.json"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("{\"a\": \"x\"}\n{\"a\": oops}\n").hasPrefix("bad.json: line 2: malformed JSON"))
        XCTAssertEqual(message("{\"a\": \"x\"}\n[1, 2]\n"), "bad.json: line 2: expected a JSON object (a record with named fields)")
        XCTAssertEqual(message("[\n{\"a\": 1}\n{\"a\": 2}\n]"), "bad.json: line 3: malformed JSON: expected ',' or ']' after a record")
        XCTAssertEqual(message("[\n{\"a\": 1},\n{\"a\": \"2}\n]"), "bad.json: line 3: unterminated string")
        XCTAssertEqual(message("[\n{\"a\": 1},\n{\"a\": [2}\n"), "bad.json: line 4: unexpected end of file inside a record (unclosed '{' or '[')")
    }

    func testInvalidRecordsStopOrAreSkippedAndCounted() throws {
        let path = try Fixture.write("""
            {"Question": "a", "Complex_CoT": "b", "Response": "c"}
            {"Question": "a", "Response": "c"}
            {"Question": "a", "Complex_CoT": "b", "Response": "c"}
            {"Question": "a", "Complex_CoT": null, "Response": "c"}
            """, to: directory, name: "d.jsonl")
        XCTAssertThrowsError(try TrainingData.load(path, config: tinyTemplate(), tokenizer: ByteTokenizer())) { error in
            XCTAssertEqual("\(error)", "\(path): line 2: the record has no field 'Complex_CoT'")
        }
        let data = try TrainingData.load(path, config: tinyTemplate { $0.skipInvalid = true }, tokenizer: ByteTokenizer())
        XCTAssertEqual(data.skippedInvalid, 2)
        XCTAssertEqual(data.train.map(\.recordIndex), [0, 2])
        XCTAssertTrue(data.summary.contains("2 skipped as invalid"))
    }

    func testTemplateNamingAnUnknownFieldFailsBeforeTraining() throws {
        let records = Fixture.records([["Question": "a", "Complex_CoT": "b", "Response": "c"]])
        XCTAssertThrowsError(try ExampleBuilder(config: tinyTemplate { $0.answerTemplate = "{Answer}" }, records: records, file: "d.jsonl")) { error in
            XCTAssertEqual("\(error)", "key answer_template: the template names field {Answer}, which no record in d.jsonl has (fields: Complex_CoT, Question, Response)")
        }
    }

    func testEmptyDatasetIsAnError() throws {
        let path = try Fixture.write("\n\n", to: directory, name: "empty.jsonl")
        XCTAssertThrowsError(try TrainingData.load(path, config: tinyTemplate(), tokenizer: ByteTokenizer())) { error in
            XCTAssertEqual("\(error)", "\(path): the dataset has no records")
        }
    }

    func testOffsetLimitAndHeldOutSplit() throws {
        let records = Fixture.records((0..<30).map { ["Question": "q\($0)", "Complex_CoT": "c", "Response": "r"] })
        let config = tinyTemplate { $0.offset = 5; $0.limit = 20; $0.validationFraction = 0.1 }
        let data = try TrainingData.prepare(records, file: "d.jsonl", config: config, tokenizer: ByteTokenizer())
        XCTAssertEqual(data.selected, 20)
        XCTAssertEqual(data.validation.count, 2)
        XCTAssertEqual(data.train.count, 18)
        XCTAssertEqual(data.heldOutIndices, data.validation.map(\.recordIndex))
        XCTAssertEqual(data.heldOutIndices, data.heldOutIndices.sorted())
        let all = Set(data.train.map(\.recordIndex)).union(data.heldOutIndices)
        XCTAssertEqual(all, Set(5..<25))
        XCTAssertTrue(Set(data.train.map(\.recordIndex)).isDisjoint(with: data.heldOutIndices))
        // Same seed, same split; another seed, another split.
        let again = try TrainingData.prepare(records, file: "d.jsonl", config: config, tokenizer: ByteTokenizer())
        XCTAssertEqual(again.heldOutIndices, data.heldOutIndices)
        var other = config
        other.seed = 7
        other.validationFraction = 0
        other.validationCount = 5
        let reseeded = try TrainingData.prepare(records, file: "d.jsonl", config: other, tokenizer: ByteTokenizer())
        XCTAssertEqual(reseeded.heldOutIndices.count, 5)
        XCTAssertNotEqual(Array(reseeded.heldOutIndices.prefix(2)), data.heldOutIndices)
        XCTAssertThrowsError(try TrainingData.prepare(records, file: "d.jsonl", config: tinyTemplate { $0.validationCount = 30 }, tokenizer: ByteTokenizer()))
    }

    func testMicroBatchPadsToItsLongestRecord() {
        let a = TrainingExample(recordIndex: 0, pieces: [([1, 2, 3], true)], maxLength: 10)
        let b = TrainingExample(recordIndex: 1, pieces: [([4, 5], false), ([6], true)], maxLength: 10)
        let batch = MicroBatch([a, b], padID: 9)
        XCTAssertEqual(batch.length, 3)
        XCTAssertEqual(batch.tokens, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(batch.labels, [2, 3, ignore, ignore, 6, ignore])
        XCTAssertEqual(batch.labelCount, 3)
        let c = TrainingExample(recordIndex: 2, pieces: [([7], true)], maxLength: 10)
        let padded = MicroBatch([a, c], padID: 9)
        XCTAssertEqual(padded.tokens, [1, 2, 3, 7, 9, 9])
        XCTAssertEqual(padded.labels, [2, 3, ignore, ignore, ignore, ignore])
        XCTAssertEqual(padded.pass(dropoutSeed: nil, matrixPrecision: .float32).positions, [0, 1, 2, 0, 1, 2])
        XCTAssertEqual(padded.tokenCount, 4)
    }

    func testEpochPlanCoversEveryExampleOncePerEpoch() {
        let plan = EpochPlan(examples: 15, microBatchSize: 2, accumulation: 4, shuffle: true, seed: 1)
        XCTAssertEqual(plan.microBatchesPerEpoch, 8)
        XCTAssertEqual(plan.stepsPerEpoch, 2)
        for epoch in 0..<2 {
            let order = plan.order(epoch: epoch)
            let seen = (0..<plan.stepsPerEpoch).flatMap { plan.microBatches(ofStep: epoch * plan.stepsPerEpoch + $0, order: order).flatMap { $0 } }
            XCTAssertEqual(seen.sorted(), Array(0..<15))
        }
        XCTAssertNotEqual(plan.order(epoch: 0), plan.order(epoch: 1))
        // The tutorial: 1,500 records, micro-batch 2, accumulation 4 → 188 steps an epoch (HF rounds up).
        XCTAssertEqual(EpochPlan(examples: 1500, microBatchSize: 2, accumulation: 4, shuffle: true, seed: 42).stepsPerEpoch, 188)
        let last = EpochPlan(examples: 5, microBatchSize: 2, accumulation: 2, shuffle: false, seed: 0)
        XCTAssertEqual(last.microBatches(ofStep: 1, order: last.order(epoch: 0)), [[4]])
    }
}
