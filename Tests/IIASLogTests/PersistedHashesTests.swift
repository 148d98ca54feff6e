import Foundation
import IIASCrypto
import IIASTestSupport
import XCTest
@testable import IIASLog

/// The `hashes` and `index` files: open trusts the prefix they cover, repairs a torn
/// tail, and refuses stored hashes that disagree with the `checkpoint` file.
final class PersistedHashesTests: XCTestCase {
    private func makeLog(_ count: Int, checkpointAt: Int? = nil) async throws -> (String, [UInt8]) {
        let dir = try makeTemporaryDirectory("iias-hashes").path + "/log"
        let log = try LogStore(directory: dir, segmentSize: 64 * 1024)
        let key = try PrivateKeyFile.loadSigningKey(TestPKI.shared.centerDirectory("AZ") + "/signing.key")
        for i in 0..<count {
            if i == checkpointAt { try await log.appendTreeHead(signer: "AZ", key: key) }
            _ = try await log.append(type: .operatorAction, payload: Array("entry \(i) ".utf8) + [UInt8](repeating: UInt8(i & 0xff), count: 40))
        }
        let root = try log.merkleTree().rootHash(treeSize: log.count)
        log.close()
        return (dir, root)
    }

    private func fileSize(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
    }

    /// Reopen after 5,000 appends reads no record of the checkpointed prefix: a byte
    /// flipped in an early record body does not stop open; a read-only (verify) open finds it.
    func testReopenTrustsCheckpointedPrefixAndVerifyStillFindsDamage() async throws {
        let (dir, root) = try await makeLog(5000, checkpointAt: 4990)
        let segment = dir + "/" + LogStore.segmentName(0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
        bytes[LogStore.segmentHeaderSize + 40] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: segment))
        let log = try LogStore(directory: dir, segmentSize: 64 * 1024)
        XCTAssertEqual(log.count, 5001)
        XCTAssertEqual(log.trustedPrefix, 5001)
        XCTAssertEqual(try log.merkleTree().rootHash(treeSize: 5001), root)
        XCTAssertThrowsError(try log.entry(at: 0))
        XCTAssertEqual(try log.entry(at: 4999).index, 4999)
        let next = try await log.append(type: .operatorAction, payload: [1])
        XCTAssertEqual(next, 5001)
        log.close()
        XCTAssertThrowsError(try LogStore(directory: dir, readOnly: true)) { error in
            guard case LogStoreError.corrupt = error else { return XCTFail("\(error)") }
        }
        let cli = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["log", "verify", dir], timeout: 30)
        XCTAssertTrue((cli.stdout + cli.stderr).contains(LogStore.segmentName(0)), cli.stdout + cli.stderr)
        XCTAssertNotEqual(cli.status, 0)
    }

    /// A hashes file and index file cut mid-way (a crash between writes) are cut back and recomputed.
    func testTruncatedHashesAndIndexAreRepaired() async throws {
        let (dir, root) = try await makeLog(700)
        let hashes = dir + "/" + LogStore.hashesFileName
        let index = dir + "/" + LogStore.indexFileName
        let fullHashes = try fileSize(hashes)
        let fullIndex = try fileSize(index)
        XCTAssertEqual(fullHashes, LogStore.storedHashCount(700) * 32)
        XCTAssertEqual(fullIndex, 700 * 16)
        XCTAssertEqual(truncate(hashes, off_t(fullHashes / 2 + 7)), 0)
        XCTAssertEqual(truncate(index, off_t(fullIndex - 5)), 0)
        let log = try LogStore(directory: dir, segmentSize: 64 * 1024)
        XCTAssertLessThan(log.trustedPrefix, 700)
        XCTAssertEqual(log.count, 700)
        XCTAssertEqual(try log.merkleTree().rootHash(treeSize: 700), root)
        XCTAssertEqual(try fileSize(hashes), fullHashes)
        XCTAssertEqual(try fileSize(index), fullIndex)
        log.close()
        let again = try LogStore(directory: dir, segmentSize: 64 * 1024)
        XCTAssertEqual(again.trustedPrefix, 700)
        XCTAssertEqual(try again.entry(at: 350).index, 350)
        again.close()
    }

    /// A flipped byte in a stored hash inside the checkpointed prefix: the caches are
    /// rejected (reported) and rebuilt from the segments; the tree is the signed one.
    func testFlippedHashBeforeCheckpointIsRebuiltFromSegments() async throws {
        let (dir, root) = try await makeLog(300, checkpointAt: 290)
        let hashes = dir + "/" + LogStore.hashesFileName
        var bytes = try Data(contentsOf: URL(fileURLWithPath: hashes))
        bytes[32 * 10 + 3] ^= 0x80
        try bytes.write(to: URL(fileURLWithPath: hashes))
        let log = try LogStore(directory: dir, segmentSize: 64 * 1024)
        XCTAssertEqual(log.trustedPrefix, 0)
        XCTAssertTrue(log.rejectedCaches?.contains(LogStore.hashesFileName) == true, "\(String(describing: log.rejectedCaches))")
        XCTAssertEqual(log.count, 301, "300 entries and the tree head")
        XCTAssertEqual(try log.merkleTree().rootHash(treeSize: log.count), root)
        log.close()
        let again = try LogStore(directory: dir, segmentSize: 64 * 1024)
        XCTAssertNil(again.rejectedCaches, "the rebuilt caches are trusted on the next open")
        XCTAssertEqual(again.trustedPrefix, 301)
        again.close()
    }

    /// A checkpoint that signs more entries than the segments hold: entries were lost; refused.
    func testCheckpointLargerThanTheLogIsRefused() async throws {
        let (dir, _) = try await makeLog(300, checkpointAt: 290)
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }.sorted()
        for name in segments.dropFirst() { try FileManager.default.removeItem(atPath: dir + "/" + name) }
        let first = dir + "/" + segments[0]
        let size = try fileSize(first)
        XCTAssertEqual(truncate(first, off_t(size / 4)), 0)
        XCTAssertThrowsError(try LogStore(directory: dir, segmentSize: 64 * 1024)) { error in
            guard case let LogStoreError.inconsistent(why) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("290") && why.contains("lost"), why)
        }
    }

    /// Garbage hashes and index files (wrong sizes, random bytes) never give a wrong tree: open rescans.
    func testGarbageSideFilesFallBackToScan() async throws {
        let (dir, root) = try await makeLog(200)
        try Data((0..<1000).map { UInt8($0 & 0xff) }).write(to: URL(fileURLWithPath: dir + "/" + LogStore.indexFileName))
        try Data(repeating: 0xAB, count: 333).write(to: URL(fileURLWithPath: dir + "/" + LogStore.hashesFileName))
        let log = try LogStore(directory: dir, segmentSize: 64 * 1024)
        defer { log.close() }
        XCTAssertEqual(log.trustedPrefix, 0)
        XCTAssertEqual(log.count, 200)
        XCTAssertEqual(try log.merkleTree().rootHash(treeSize: 200), root)
    }

    /// Proofs from the on-disk hashes equal those from the in-memory tree, across a reopen.
    func testDiskHashesGiveTheSameProofs() async throws {
        let (dir, root) = try await makeLog(777)
        let log = try LogStore(directory: dir, segmentSize: 64 * 1024)
        defer { log.close() }
        let disk = try XCTUnwrap(log.diskHashes)
        XCTAssertEqual(disk.treeSize, 777)
        XCTAssertEqual(try disk.rootHash(treeSize: 777), root)
        let memory = try log.merkleTree()
        for (m, n) in [(0, 1), (5, 777), (776, 777), (300, 512), (3, 9)] as [(UInt64, UInt64)] {
            XCTAssertEqual(try disk.inclusionProof(leafIndex: m, treeSize: n), try memory.inclusionProof(leafIndex: m, treeSize: n))
            XCTAssertEqual(try disk.consistencyProof(from: m + 1, to: n), try memory.consistencyProof(from: m + 1, to: n))
        }
        XCTAssertThrowsError(try disk.storedHash(level: 0, index: 777))
        XCTAssertThrowsError(try disk.storedHash(level: 10, index: 0))
        XCTAssertNil(try LogStore(directory: dir, readOnly: true).diskHashes)
    }
}
