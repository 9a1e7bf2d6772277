import MedtuneCore

/// A safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the tensor bytes, read through a memory mapping.
///
/// The header is checked as the reference `safetensors` package checks it: bounded length, byte
/// ranges that tile the data section exactly (no gaps, no overlaps, nothing past the end), and
/// shape × dtype equal to each range's length.
public final class SafetensorsFile: TensorSource, @unchecked Sendable {
    public var path: String { file.path }
    /// The free-form `__metadata__` strings.
    public let metadata: [String: String]
    /// Tensors in data order.
    public let tensorEntries: [TensorEntry]
    /// Absolute offset of the data section.
    public let dataOffset: Int
    private let file: MappedFile
    /// Each tensor's position in `tensorEntries` and its byte range in the data section.
    private let index: [String: (position: Int, range: Range<Int>)]

    /// The reference package refuses headers over 100 MB.
    public static let maximumHeaderBytes = 100_000_000

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        var reader = ByteReader(file.bytes, file: path)
        let declared = try reader.read(UInt64.self, "the header length")
        guard declared <= UInt64(Self.maximumHeaderBytes) else {
            throw InputError(file: path, at: "byte 0", "header length \(declared) exceeds the \(Self.maximumHeaderBytes)-byte limit")
        }
        let headerLength = Int(declared)
        guard headerLength <= reader.remaining else {
            throw InputError(file: path, at: "byte 0", "header length \(headerLength) is larger than the \(reader.remaining) bytes after it")
        }
        guard headerLength >= 2, file.bytes[8] == UInt8(ascii: "{") else {
            throw InputError(file: path, at: "byte 8", "the header is not a JSON object")
        }
        let header = try JSONValue.parse(UnsafeRawBufferPointer(rebasing: file.bytes[8..<(8 + headerLength)]), file: path, baseOffset: 8)
        guard let members = header.members else {
            throw InputError(file: path, at: "byte 8", "the header is not a JSON object")
        }
        dataOffset = 8 + headerLength
        let dataBytes = file.byteCount - dataOffset

        var metadata: [String: String] = [:]
        var parsed: [(entry: TensorEntry, range: Range<Int>)] = []
        for (name, value) in members {
            if name == "__metadata__" {
                guard let pairs = value.members else {
                    throw InputError(file: path, at: "__metadata__", "must be an object of strings")
                }
                for (key, v) in pairs {
                    guard let s = v.string else { throw InputError(file: path, at: "__metadata__.\(key)", "must be a string") }
                    metadata[key] = s
                }
                continue
            }
            parsed.append(try Self.parseEntry(name, value, path: path))
        }

        parsed.sort { $0.range.lowerBound < $1.range.lowerBound }
        var end = 0
        for (entry, range) in parsed {
            func fail(_ message: String) -> InputError { InputError(file: path, at: "tensor \(entry.name)", message) }
            guard range.upperBound <= dataBytes else {
                throw fail("data (bytes \(dataOffset + range.lowerBound)..<\(dataOffset + range.upperBound)) extends past the end of the file (\(file.byteCount) bytes)")
            }
            guard range.lowerBound == end else {
                throw fail(range.lowerBound < end ? "data range \(range) overlaps the previous tensor"
                                                  : "data range \(range) leaves a gap after byte \(end)")
            }
            end = range.upperBound
        }
        guard end == dataBytes else {
            throw InputError(file: path, at: "byte \(dataOffset + end)", "\(dataBytes - end) bytes after the last tensor belong to none")
        }
        self.metadata = metadata
        tensorEntries = parsed.map(\.entry)
        index = Dictionary(uniqueKeysWithValues: parsed.enumerated().map { ($1.entry.name, ($0, $1.range)) })
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, path: String) throws -> (entry: TensorEntry, range: Range<Int>) {
        func fail(_ message: String) -> InputError { InputError(file: path, at: "tensor \(name)", message) }
        guard let dtype = value["dtype"]?.string else { throw fail("missing dtype") }
        guard let type = StorageType(safetensorsDType: dtype) else { throw fail("unknown dtype \(dtype)") }
        guard let dims = value["shape"]?.array else { throw fail("missing shape") }
        var shape: [Int] = []
        var elements = 1
        for d in dims {
            guard let n = d.int, n >= 0 else { throw fail("shape \(JSONValue.array(dims)) is not a list of non-negative integers") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail("element count overflows") }
            elements = product
            shape.append(n)
        }
        guard let offsets = value["data_offsets"]?.array, offsets.count == 2,
              let begin = offsets[0].int, let end = offsets[1].int, begin >= 0, end >= begin else {
            throw fail("data_offsets must be two non-negative, ordered integers")
        }
        guard let byteCount = type.byteCount(elements: elements) else {
            throw fail("\(elements) elements do not fill whole bytes of \(dtype)")
        }
        guard end - begin == byteCount else {
            throw fail("shape \(shape) of \(dtype) needs \(byteCount) bytes, but data_offsets span \(end - begin)")
        }
        return (TensorEntry(name: name, type: type, shape: shape, byteCount: byteCount, isComplete: true, file: path), begin..<end)
    }

    public func tensor(named name: String) throws -> StoredTensor {
        guard let (position, range) = index[name] else {
            throw InputError(file: path, at: "tensor \(name)", "no such tensor in the file")
        }
        let entry = tensorEntries[position]
        return StoredTensor(name: name, type: entry.type, shape: entry.shape, file: file,
                            offset: dataOffset + range.lowerBound, byteCount: range.count)
    }
}
