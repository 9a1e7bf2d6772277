import XCTest
@testable import Hub

/// Digests against the FIPS 180 examples and git's own blob ids.
final class DigestTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(sha256([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(sha256(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(sha256([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA1KnownVectors() {
        var hash = StreamingHash<SHA1>()
        hash.update(Array("abc".utf8))
        XCTAssertEqual(hash.hexDigest(), "a9993e364706816aba3e25717850c26c9cd0d89d")
        var long = StreamingHash<SHA1>()
        long.update(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        XCTAssertEqual(long.hexDigest(), "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    /// `git hash-object` of an empty file and of "hello world\n".
    func testGitBlobIDs() {
        XCTAssertEqual(gitBlobID([]), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        XCTAssertEqual(gitBlobID(Array("hello world\n".utf8)), "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")
        var digest = ContentDigest(sha256: true, gitBlobSize: 12)
        Array("hello world\n".utf8).withUnsafeBytes { digest.update($0) }
        let result = digest.finalize()
        XCTAssertEqual(result.gitBlob, "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")
        XCTAssertEqual(result.sha256, sha256(Array("hello world\n".utf8)))
    }

    /// Chunks that straddle block boundaries give the same digest as one piece.
    func testStreamingInOddChunksMatchesOnePiece() {
        let data = pattern(10_000, seed: 3)
        var whole = StreamingHash<SHA256>()
        whole.update(data)
        var pieces = StreamingHash<SHA256>()
        var offset = 0
        for size in [1, 63, 64, 65, 127, 3, 1000, 4096].cycled(until: data.count) {
            let end = min(data.count, offset + size)
            pieces.update(Array(data[offset..<end]))
            offset = end
        }
        XCTAssertEqual(pieces.hexDigest(), whole.hexDigest())
    }
}

private extension Array where Element == Int {
    /// Repeats the sizes until they cover `total`.
    func cycled(until total: Int) -> [Int] {
        var out: [Int] = []
        var sum = 0
        while sum < total {
            for size in self where sum < total { out.append(size); sum += size }
        }
        return out
    }
}
