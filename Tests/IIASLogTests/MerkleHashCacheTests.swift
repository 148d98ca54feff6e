import Foundation
import IIASCrypto
import IIASTestSupport
import XCTest
@testable import IIASLog

/// The stored-hash cache proofs of a batch are built through: the same proofs as the log's
/// `hashes` file gives, fewer reads of it, never more hashes held than its capacity.
final class MerkleHashCacheTests: XCTestCase {
    /// A log of `count` entries on disk, open (its tree is the `hashes` file, read with pread).
    private func makeLog(_ count: Int) async throws -> LogStore {
        let dir = try makeTemporaryDirectory("iias-hash-cache").path + "/log"
        let log = try LogStore(directory: dir, segmentSize: 64 * 1024)
        let payloads = (0..<count).map { (type: EntryType.operatorAction, payload: Array("entry \($0)".utf8)) }
        _ = try await log.append(payloads)
        return log
    }

    func testProofsEqualTheLogsOwnAndEachHashIsReadOnce() async throws {
        let log = try await makeLog(1000)
        defer { log.close() }
        let disk = try log.merkleTree()
        XCTAssertTrue(disk is DiskMerkleHashes)
        let cache = MerkleHashCache(disk)
        var uncachedReads = 0
        for size: UInt64 in [1, 2, 7, 512, 999, 1000] {
            for leaf in stride(from: 0, to: size, by: 3) {
                let proof = try cache.inclusionProof(leafIndex: leaf, treeSize: size)
                XCTAssertEqual(proof, try disk.inclusionProof(leafIndex: leaf, treeSize: size), "leaf \(leaf) of \(size)")
                uncachedReads += proof.count
            }
            XCTAssertEqual(try cache.rootHash(treeSize: size), try disk.rootHash(treeSize: size))
            XCTAssertEqual(try cache.consistencyProof(from: size / 2, to: size), try disk.consistencyProof(from: size / 2, to: size))
        }
        XCTAssertEqual(try cache.storedHash(level: 0, index: 17), try disk.storedHash(level: 0, index: 17))
        // Every stored hash of 1000 leaves is 2·1000 − popcount(1000) = 1994 at most.
        XCTAssertLessThanOrEqual(cache.reads, 1994)
        XCTAssertLessThan(cache.reads, uncachedReads / 2)
        XCTAssertEqual(cache.count, cache.reads)
    }

    func testHoldsNoMoreThanItsCapacityAndStaysCorrectWhenItForgets() async throws {
        let log = try await makeLog(300)
        defer { log.close() }
        let disk = try log.merkleTree()
        let cache = MerkleHashCache(disk, capacity: 5)
        for leaf: UInt64 in 0..<300 {
            XCTAssertEqual(try cache.inclusionProof(leafIndex: leaf, treeSize: 300), try disk.inclusionProof(leafIndex: leaf, treeSize: 300))
            XCTAssertLessThanOrEqual(cache.count, 5)
        }
        XCTAssertGreaterThan(cache.reads, 5, "it forgot and read again")
    }

    func testOutOfRangeAsksThrowAsTheSourceDoesAndAreNotKept() async throws {
        let log = try await makeLog(10)
        defer { log.close() }
        let cache = MerkleHashCache(try log.merkleTree())
        XCTAssertEqual(cache.treeSize, 10)
        XCTAssertThrowsError(try cache.storedHash(level: 0, index: 10)) { error in
            guard case LogError.indexOutOfRange = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try cache.inclusionProof(leafIndex: 10, treeSize: 10))
        XCTAssertThrowsError(try cache.storedHash(level: 4, index: 0))
        XCTAssertEqual(cache.count, 0)
        XCTAssertEqual(try cache.storedHash(level: 3, index: 0), try log.merkleTree().storedHash(level: 3, index: 0))
        XCTAssertEqual(cache.count, 1)
    }
}
