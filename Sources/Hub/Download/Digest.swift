import Crypto

/// The checks a downloaded file must pass, computed in one pass over its bytes: SHA-256 (Git LFS
/// objects, ModelScope's `Sha256`) and the git blob id (SHA-1 of `"blob <size>\0"` followed by
/// the content) for small files kept in git.
///
/// The hashes are swift-crypto's (BoringSSL, which uses the CPU's SHA instructions where it has
/// them). They take bytes in pieces of any size, so a resumed download feeds in only what
/// arrives after the bytes already on disk.
struct ContentDigest {
    private var sha256: SHA256?
    private var gitBlob: Insecure.SHA1?

    /// `gitBlobSize` is the file's full size, which the git blob header needs before any content.
    init(sha256: Bool, gitBlobSize: Int64?) {
        self.sha256 = sha256 ? SHA256() : nil
        if let size = gitBlobSize {
            var blob = Insecure.SHA1()
            blob.update(data: Array("blob \(size)\0".utf8))
            gitBlob = blob
        }
    }

    var isEmpty: Bool { sha256 == nil && gitBlob == nil }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        sha256?.update(bufferPointer: bytes)
        gitBlob?.update(bufferPointer: bytes)
    }

    /// In lower-case hexadecimal, the form hubs use in their listings and headers.
    func finalize() -> (sha256: String?, gitBlob: String?) {
        (sha256?.finalize().hexDigest, gitBlob?.finalize().hexDigest)
    }
}

extension Digest {
    /// Lower-case hexadecimal.
    var hexDigest: String {
        map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
