import MedtuneCore

/// A cursor over little-endian bytes that checks every read against the end, so a damaged file
/// ends in an `InputError` naming the byte offset instead of a read past the mapping.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, file: String, offset: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    func error(_ message: String, at position: Int? = nil) -> InputError {
        InputError(file: file, at: "byte \(position ?? offset)", message)
    }

    mutating func read<I: FixedWidthInteger>(_: I.Type, _ what: @autoclosure () -> String) throws -> I {
        let size = MemoryLayout<I>.size
        guard remaining >= size else { throw error("file ends inside \(what())") }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: I.self)
        offset += size
        return I(littleEndian: value)
    }

    mutating func readFloat32(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readFloat64(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A u64 count of items that each take at least `minimumItemBytes` bytes; a count the rest of
    /// the file could not hold is rejected before anything is allocated for it.
    mutating func readCount(_ what: @autoclosure () -> String, minimumItemBytes: Int) throws -> Int {
        let start = offset
        let raw = try read(UInt64.self, what())
        let limit = UInt64(remaining / max(minimumItemBytes, 1))
        guard raw <= limit else {
            throw error("\(what()) \(raw) is more than the \(remaining) remaining bytes can hold", at: start)
        }
        return Int(raw)
    }

    /// A u64-length-prefixed UTF-8 string (invalid sequences are replaced, never trusted).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try readCount("length of \(what())", minimumItemBytes: 1)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
        offset += length
        return String(decoding: slice, as: UTF8.self)
    }

    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, remaining >= count else { throw error("file ends inside \(what())") }
        offset += count
    }
}
