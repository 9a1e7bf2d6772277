import Crypto
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
        XCTAssertEqual(Insecure.SHA1.hash(data: Array("abc".utf8)).hexDigest, "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(Insecure.SHA1.hash(data: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hexDigest,
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    /// `git hash-object` of an empty file and of "hello world\n".
    func testGitBlobIDs() {
        XCTAssertEqual(gitBlobID([]), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        XCTAssertEqual(gitBlobID(Array("hello world\n".utf8)), "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")
        var digest = ContentDigest(sha256: true, gitBlobSize: 12)
        Array("hello world\n".utf8).withUnsafeBytes { digest.update($0) }
        let result = digest.finalize()
        XCTAssertEqual(result.gitBlob, "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")
        XCTAssertEqual(result.sha256, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447")
    }

    /// Chunks that straddle block boundaries, as a resumed download feeds them, give the same
    /// digests as one piece.
    func testStreamingInOddChunksMatchesOnePiece() {
        let data = pattern(10_000, seed: 3)
        var pieces = ContentDigest(sha256: true, gitBlobSize: Int64(data.count))
        var offset = 0
        for size in [1, 63, 64, 65, 127, 3, 1000, 4096].cycled(until: data.count) {
            let end = min(data.count, offset + size)
            data[offset..<end].withUnsafeBytes { pieces.update($0) }
            offset = end
        }
        // From Python's hashlib.
        let streamed = pieces.finalize()
        XCTAssertEqual(streamed.sha256, "a5d921a32f66146cdfde8b2654b628c47212007d6e3f5935b838fcf43f83247d")
        XCTAssertEqual(streamed.gitBlob, "32a7c5a5dbd1d9ba75cdfd6bbdd2de99380c4acc")
        XCTAssertEqual(digests(data).sha256, streamed.sha256)
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
