import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import XCTest

/// `LogStore.appendTreeHead`: the signed tree head covers exactly the entries before it
/// (its size is its own index), is stored as a `treeHead` entry, and the newest one is in
/// `DIR/checkpoint`, verifiable with the center's certificate.
final class TreeHeadTests: XCTestCase {
    func testTreeHeadCoversEntriesBeforeItAndIsWrittenToCheckpointFile() async throws {
        let dir = try makeTemporaryDirectory("iias-treehead").appendingPathComponent("log").path
        let key = try PrivateKeyFile.loadSigningKey(TestPKI.shared.centerDirectory("AZ") + "/signing.key")
        let cert = try Certificate(pemFile: TestPKI.shared.centerDirectory("AZ") + "/signing.crt")
        let log = try LogStore(directory: dir, segmentSize: 4096)
        for i in 0..<10 { _ = try await log.append(type: .received, payload: Array("e\(i)".utf8)) }
        let first = try await log.appendTreeHead(signer: "AZ", key: key)
        XCTAssertEqual(first.treeSize, 10)
        XCTAssertEqual(first.origin, Checkpoint.origin(center: "AZ"))
        XCTAssertEqual(first.rootHash, try log.merkleTree().rootHash(treeSize: 10))
        XCTAssertEqual(log.count, 11)
        let entry = try log.entry(at: 10)
        XCTAssertEqual(entry.type, .treeHead)
        let note = String(decoding: entry.payload, as: UTF8.self)
        XCTAssertEqual(try SignedNote(parsing: note).signatures.map(\.name), ["iias:center:AZ/log"], "signed under the origin")
        XCTAssertEqual(try Checkpoint.verify(note: note, logOf: "AZ", publicKey: cert.signingPublicKey()), first)

        for i in 0..<5 { _ = try await log.append(type: .sent, payload: Array("f\(i)".utf8)) }
        let second = try await log.appendTreeHead(signer: "AZ", key: key)
        XCTAssertEqual(second.treeSize, 16, "size = own index: 11 + 5")
        log.close()

        let fileNote = try String(contentsOfFile: dir + "/" + LogStore.checkpointFileName, encoding: .utf8)
        XCTAssertEqual(try Checkpoint.verify(note: fileNote, logOf: "AZ", publicKey: cert.signingPublicKey()), second)
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/checkpoint")[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/checkpoint.tmp"))

        // After reopening, the tree head entries are still there and the root matches.
        let reopened = try LogStore(directory: dir, readOnly: true)
        XCTAssertEqual(reopened.count, 17)
        XCTAssertEqual(try reopened.merkleTree().rootHash(treeSize: 16), second.rootHash)
        XCTAssertThrowsError(try Checkpoint.verify(note: fileNote, logOf: "AZ", publicKey: SigningPrivateKey.generate().publicKey))
    }

    func testConcurrentAppendsAndTreeHeadsKeepSizeEqualToIndex() async throws {
        let dir = try makeTemporaryDirectory("iias-treehead").appendingPathComponent("log").path
        let key = SigningPrivateKey.generate()
        let log = try LogStore(directory: dir)
        defer { log.close() }
        let heads = try await withThrowingTaskGroup(of: Checkpoint?.self) { group in
            for i in 0..<60 {
                group.addTask {
                    if i % 10 == 0 { return try await log.appendTreeHead(signer: "GE", key: key) }
                    _ = try await log.append(type: .sent, payload: [UInt8(i)])
                    return nil
                }
            }
            var out: [Checkpoint] = []
            for try await c in group { if let c { out.append(c) } }
            return out
        }
        XCTAssertEqual(heads.count, 6)
        for head in heads {
            let entry = try log.entry(at: head.treeSize)
            XCTAssertEqual(entry.type, .treeHead)
            XCTAssertEqual(try Checkpoint.verify(note: String(decoding: entry.payload, as: UTF8.self), logOf: "GE",
                                                 publicKey: key.publicKey), head)
            XCTAssertEqual(try log.merkleTree().rootHash(treeSize: head.treeSize), head.rootHash)
        }
    }
}
