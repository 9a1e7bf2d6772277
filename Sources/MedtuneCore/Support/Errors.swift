/// Every error medtune reports to a user conforms to this: one line that names what went wrong,
/// and where (file, line, byte offset, tensor or entry) when it concerns input.
public protocol MedtuneError: Error, CustomStringConvertible {}

/// A problem with something the user gave medtune: a file, a record, a flag value.
///
/// `file` is the path as the user wrote it; `location` is whatever pins the problem down inside
/// it ("line 12", "byte 4096", "tensor blk.0.attn_q.weight", "merges[17]").
public struct InputError: MedtuneError, Equatable {
    public var file: String?
    public var location: String?
    public var message: String

    public init(file: String? = nil, at location: String? = nil, _ message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let location { parts.append(location) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}

/// A failure of the machine or the environment rather than of the input: a library that cannot
/// be loaded, a write that did not complete, an allocation that failed.
public struct SystemError: MedtuneError, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
