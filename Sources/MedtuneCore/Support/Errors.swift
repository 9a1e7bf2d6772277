import Foundation

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
        if let location { parts.append(Self.excerpt(location, limit: Self.partLimit)) }
        parts.append(Self.excerpt(message, limit: Self.partLimit))
        // One line, whatever a file's bytes put into the message.
        return parts.joined(separator: ": ").replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
    }

    /// Longest location or message shown; values quoted from files are cut to `excerpt`'s 200
    /// first, so this only catches what no call site expected.
    static let partLimit = 1000

    /// A value read from a file, as an error quotes it: a corrupt length field can make a "name"
    /// hundreds of megabytes long, so at most `limit` characters are shown, then how much was cut.
    public static func excerpt(_ value: String, limit: Int = 200) -> String {
        guard value.utf8.count > limit else { return value }
        let shown = value.prefix(limit)
        return shown + "… (\(value.utf8.count - shown.utf8.count) more bytes)"
    }
}

/// A failure of the machine or the environment rather than of the input: a library that cannot
/// be loaded, a write that did not complete, an allocation that failed.
public struct SystemError: MedtuneError, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// Why an operation failed, in a few words (strerror's text for a system call), never
    /// Foundation's multi-line dump of an NSError.
    public static func reason(of error: Error) -> String {
        if let error = error as? MedtuneError { return error.description }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain, let posix = cocoaPOSIXCode(ns.code) { return String(cString: strerror(posix)) }
        return ns.localizedDescription
    }

    /// The errno behind Foundation's file-operation codes that carry no underlying error.
    private static func cocoaPOSIXCode(_ code: Int) -> Int32? {
        switch code {
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return ENOENT
        case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return EACCES
        case NSFileWriteOutOfSpaceError: return ENOSPC
        case NSFileWriteVolumeReadOnlyError: return EROFS
        case NSFileWriteFileExistsError: return EEXIST
        default: return nil
        }
    }
}
