import XCTest
import MedtuneCore
@testable import ModelFiles
import TestSupport

/// Damaged files of both formats end in one clean error line naming the file (and the tensor or
/// byte where it matters); never a crash, a hang or a huge allocation.
final class BadInputTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try TestPaths.temporaryDirectory("medtune-bad-input")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes without Foundation's fsync, which would make thousands of cases crawl.
    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        guard let handle = fopen(path, "wb") else { throw SystemError("cannot create \(path)") }
        defer { fclose(handle) }
        guard bytes.isEmpty || fwrite(bytes, 1, bytes.count, handle) == bytes.count else { throw SystemError("cannot write \(path)") }
        return path
    }

    /// The error `body` throws, which must be a MedtuneError.
    private func failure(_ body: () throws -> Void, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("expected an error", line: line)
            return ""
        } catch let error as MedtuneError {
            return error.description
        } catch {
            XCTFail("not a MedtuneError: \(error)", line: line)
            return ""
        }
    }

    // MARK: Specific damage

    func testGGUFDamage() throws {
        let good = Self.smallGGUF().bytes()
        let wrongMagic = try write(Array("GGUG".utf8) + good.dropFirst(4), "magic.gguf")
        XCTAssertEqual(failure { _ = try GGUFFile(path: wrongMagic) },
                       "\(wrongMagic): byte 0: not a GGUF file (the first four bytes are not \"GGUF\")")

        var v1 = good
        v1[4] = 1
        let version = try write(v1, "v1.gguf")
        XCTAssertEqual(failure { _ = try GGUFFile(path: version) },
                       "\(version): byte 4: GGUF version 1 is not supported (versions 2 and 3 are)")

        let truncated = try write(Array(good.prefix(100)), "truncated.gguf")
        XCTAssertTrue(failure { _ = try GGUFFile(path: truncated) }.hasPrefix("\(truncated): byte "))

        var hugeCount = good
        for i in 8..<16 { hugeCount[i] = 0xFF }
        let count = try write(hugeCount, "count.gguf")
        XCTAssertEqual(failure { _ = try GGUFFile(path: count) },
                       "\(count): byte 8: tensor count 18446744073709551615 is more than the \(good.count - 16) remaining bytes can hold")

        let empty = try write([], "empty.gguf")
        XCTAssertEqual(failure { _ = try GGUFFile(path: empty) }, "\(empty): empty file")

        var duplicate = Self.smallGGUF()
        duplicate.tensors.append(duplicate.tensors[0])
        let dup = try duplicate.write(to: directory, name: "dup.gguf")
        XCTAssertEqual(failure { _ = try GGUFFile(path: dup) }, "\(dup): tensor norm: duplicate tensor name")

        // A tensor whose data runs past the end: the header reads, the tensor does not.
        let cut = try write(Array(good.dropLast(40)), "cut.gguf")
        let file = try GGUFFile(path: cut)
        XCTAssertTrue(failure { _ = try file.tensor(named: "w.q4k") }.hasPrefix("\(cut): tensor w.q4k: data (bytes "))
    }

    /// A corrupt file can make a name megabytes long; the error quotes 200 characters of it and
    /// says where it is, on one line.
    func testErrorsQuoteAtMostAnExcerptOfAValue() throws {
        var builder = Self.smallGGUF()
        let huge = String(repeating: "k", count: 3_000_000) + "\nsecond line"
        builder.metadata += [(huge, .uint32(1)), (huge, .uint32(2))]
        let path = try builder.write(to: directory, name: "huge-key.gguf")
        let message = failure { _ = try GGUFFile(path: path) }
        XCTAssertLessThan(message.count, 400, String(message.prefix(400)))
        XCTAssertTrue(message.hasPrefix("\(path): byte "), message)
        XCTAssertTrue(message.contains("duplicate metadata key kkkk"), message)
        XCTAssertTrue(message.contains("more bytes)"), message)
        XCTAssertFalse(message.contains("\n"))
        XCTAssertEqual(InputError(file: "f", "a\nb").description, "f: a\\nb")
    }

    func testSafetensorsDamage() throws {
        func file(_ header: String, data: Int) -> [UInt8] {
            var length = UInt64(header.utf8.count).littleEndian
            return withUnsafeBytes(of: &length) { Array($0) } + Array(header.utf8) + [UInt8](repeating: 0, count: data)
        }
        let cases: [(header: String, data: Int, error: String)] = [
            (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12,
             "tensor b: data range 4..<12 overlaps the previous tensor"),
            (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8,
             "tensor a: shape [3] of F32 needs 12 bytes, but data_offsets span 8"),
            (#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 8,
             "tensor a: data (bytes 63..<79) extends past the end of the file (71 bytes)"),
            (#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#, 4, "tensor a: unknown dtype Q9"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8,
             "byte 62: invalid JSON: duplicate key \"a\""),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 8, "byte 66: 4 bytes after the last tensor belong to none"),
            (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, "tensor a: shape [-1] is not a list of non-negative integers"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, 4, "byte 61: invalid JSON: expected ',' or '}'"),
            ("[1]", 0, "byte 8: the header is not a JSON object"),
        ]
        for (i, c) in cases.enumerated() {
            let path = try write(file(c.header, data: c.data), "case\(i).safetensors")
            XCTAssertEqual(failure { _ = try SafetensorsFile(path: path) }, "\(path): \(c.error)")
        }
        var huge = file("{}", data: 0)
        huge.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 0, 1, 0])
        let hugePath = try write(huge, "huge.safetensors")
        XCTAssertEqual(failure { _ = try SafetensorsFile(path: hugePath) },
                       "\(hugePath): byte 0: header length 281474976710656 exceeds the 100000000-byte limit")
        let longer = try write(file("{}", data: 0).enumerated().map { $0.offset == 0 ? 200 : $0.element }, "longer.safetensors")
        XCTAssertEqual(failure { _ = try SafetensorsFile(path: longer) },
                       "\(longer): byte 0: header length 200 is larger than the 2 bytes after it")
    }

    // MARK: Fuzzing

    /// Thousands of mutated GGUF files (bit flips, truncations, huge counts and lengths written
    /// over header fields): every one parses or fails with a MedtuneError, and whatever parses
    /// can be inspected and its tensors decoded.
    func testFuzzedGGUF() throws {
        let base = Self.smallGGUF().bytes()
        let headerEnd = try GGUFFile(path: write(base, "base.gguf")).dataOffset
        var rng = SplitMix64(seed: 42)
        var parsed = 0
        for i in 0..<2500 {
            let mutated = Self.mutate(base, headerEnd: headerEnd, &rng)
            let path = try write(mutated, "fuzz\(i).gguf")
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                let file = try GGUFFile(path: path)
                parsed += 1
                for info in file.tensors {
                    if let tensor = try? file.tensor(named: info.name), tensor.type.isSupported {
                        _ = try tensor.floats()
                        if let w = try? LinearWeight(tensor), w.inFeatures > 0 {
                            var y = [Float](repeating: 0, count: w.outFeatures)
                            w.vectorProduct(pattern(rows: 1, cols: w.inFeatures, 1, 0), into: &y)
                        }
                    }
                }
                _ = try? ModelSummary.inspect(path)
                _ = try? ModelCheckpoint.open(path)
            } catch let error as MedtuneError {
                XCTAssertTrue(error.description.hasPrefix(path), "case \(i): \(error)")
            }
        }
        XCTAssertGreaterThan(parsed, 100, "mutations should leave some files readable")
    }

    /// Thousands of mutated safetensors files: bit flips and truncations, plus edits of the JSON
    /// header text (numbers replaced by huge or negative ones, bytes deleted or repeated).
    func testFuzzedSafetensors() throws {
        let golden = try Golden.load("safetensors.json", as: SafetensorsGolden.self).writer
        let base = golden.file_hex.hexBytes
        let headerLength = Int(base[0]) | Int(base[1]) << 8
        let header = Array(base[8..<(8 + headerLength)])
        let data = Array(base[(8 + headerLength)...])
        var rng = SplitMix64(seed: 7)
        var parsed = 0
        for i in 0..<2500 {
            var mutated: [UInt8]
            if i % 2 == 0 {
                mutated = Self.mutate(base, headerEnd: 8 + headerLength, &rng)
            } else {
                var text = header
                Self.mutateJSON(&text, &rng)
                var length = UInt64(text.count).littleEndian
                mutated = withUnsafeBytes(of: &length) { Array($0) } + text + data
            }
            let path = try write(mutated, "fuzz\(i).safetensors")
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                let file = try SafetensorsFile(path: path)
                parsed += 1
                for entry in file.tensorEntries where entry.type.isSupported {
                    _ = try file.tensor(named: entry.name).floats()
                }
            } catch let error as MedtuneError {
                XCTAssertTrue(error.description.hasPrefix(path), "case \(i): \(error)")
            }
        }
        XCTAssertGreaterThan(parsed, 100, "mutations should leave some files readable")
    }

    /// Values that break careless length and count handling.
    private static let hostile: [UInt64] = [0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32, 1 << 40,
                                            1 << 62, UInt64(Int64.max), UInt64.max, UInt64.max - 7]

    private static func mutate(_ base: [UInt8], headerEnd: Int, _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = base
        func position(_ limit: Int) -> Int { Int(rng.next() % UInt64(max(limit, 1))) }
        switch rng.next() % 4 {
        case 0:  // bit flips, mostly in the header
            for _ in 0...(rng.next() % 4) {
                let p = rng.next() % 4 == 0 ? position(bytes.count) : position(headerEnd)
                bytes[p] ^= 1 << UInt8(rng.next() % 8)
            }
        case 1:  // truncation
            bytes.removeLast(bytes.count - position(bytes.count))
        case 2:  // a hostile 64- or 32-bit value over a header field
            let value = hostile[position(hostile.count)]
            let width = rng.next() % 2 == 0 ? 8 : 4
            let p = position(max(headerEnd - width, 1))
            for k in 0..<width where p + k < bytes.count { bytes[p + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
        default:  // a random byte run repeated or deleted
            let p = position(headerEnd), n = min(1 + position(16), bytes.count - p)
            if rng.next() % 2 == 0 { bytes.insert(contentsOf: bytes[p..<(p + n)], at: p) } else { bytes.removeSubrange(p..<(p + n)) }
        }
        return bytes
    }

    private static func mutateJSON(_ text: inout [UInt8], _ rng: inout SplitMix64) {
        let replacements = ["18446744073709551615", "-1", "99999999999999999999999", "1e308", "0", "4", "-0", "1.5", "[]", "{}", "null", "\"F64\""]
        let digits = text.indices.filter { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[$0]) }
        switch rng.next() % 3 {
        case 0 where !digits.isEmpty:  // replace one number
            var start = digits[Int(rng.next() % UInt64(digits.count))], end = start
            while start > 0, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[start - 1]) { start -= 1 }
            while end < text.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[end]) { end += 1 }
            text.replaceSubrange(start..<end, with: Array(replacements[Int(rng.next() % UInt64(replacements.count))].utf8))
        case 1:  // delete a short run
            let p = Int(rng.next() % UInt64(text.count)), n = min(1 + Int(rng.next() % 6), text.count - p)
            text.removeSubrange(p..<(p + n))
        default:  // repeat a short run
            let p = Int(rng.next() % UInt64(text.count)), n = min(1 + Int(rng.next() % 24), text.count - p)
            text.insert(contentsOf: text[p..<(p + n)], at: p)
        }
    }

    /// A small qwen2-flavoured GGUF: metadata of several types (including string and nested
    /// arrays) and tensors of a plain, a legacy and a K quantisation.
    static func smallGGUF() -> GGUFBuilder {
        var b = GGUFBuilder()
        b.metadata = [
            ("general.architecture", .string("qwen2")),
            ("qwen2.block_count", .uint32(1)),
            ("qwen2.embedding_length", .uint32(8)),
            ("qwen2.attention.head_count", .uint32(2)),
            ("qwen2.rope.freq_base", .float32(10000)),
            ("tokenizer.ggml.tokens", .array([.string("a"), .string("bc"), .string("<|end|>")])),
            ("tokenizer.ggml.eos_token_id", .uint32(2)),
            ("nested", .array([.array([.int16(-1), .int16(2)]), .array([])])),
        ]
        b.add("norm", type: .f32, dimensions: [8], data: littleEndianBytes((0..<8).map(Float.init)))
        b.add("w.q8", type: .q8_0, dimensions: [32, 2], data: (0..<68).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        var q4k = (0..<144).map { UInt8(truncatingIfNeeded: $0 &* 91 &+ 3) }
        q4k[1] = 0x20; q4k[3] = 0x1C  // small positive f16 scales
        b.add("w.q4k", type: .q4_K, dimensions: [256, 1], data: q4k)
        return b
    }
}
