import Foundation
import IIASCrypto
import IIASLog
@testable import IIASModel
@testable import IIASNode
import XCTest

/// The RECEIPT_PROOF body (one checkpoint, then per entry its own fields) read back
/// exactly, every count and length bounded before it is used; and the gathering of cosignatures up to the quorum.
final class ReceiptProofBatchTests: XCTestCase {
    private let batch = ReceiptProofBatch(through: 42, checkpoint: Array("iias:center:GE/log\n2\nAAAA\n\n".utf8), items: [
        .init(envelopeID: UUID(), sha256: Array(repeating: 7, count: 32), extra: Array(repeating: 1, count: EntryLeaf.byteCount),
              proof: [Array(repeating: 3, count: 32), Array(repeating: 4, count: 32)]),
        .init(envelopeID: UUID(), sha256: Array(repeating: 9, count: 32), extra: Array(repeating: 2, count: EntryLeaf.byteCount), proof: []),
    ])

    func testABatchReadsBackAsWritten() {
        XCTAssertEqual(ReceiptProofBatch(bytes: batch.bytes), batch)
        XCTAssertEqual(batch.items[0].index, 0x0101_0101_0101_0101, "the index is the extra line's first field")
        XCTAssertEqual(ReceiptProofBatch.acknowledged(ReceiptProofBatch.acknowledgement(42)), 42)
        XCTAssertNil(ReceiptProofBatch.acknowledged([0, 0, 0]))
    }

    func testTheCheckpointTravelsOnceAndEachItemAddsOnlyItsOwnFields() {
        XCTAssertEqual(batch.bytes.count, 8 + 4 + batch.checkpoint.count + 2 + 2 * ReceiptProofBatch.itemFixedBytes + 2 * 32)
    }

    func testTruncatedOversizedGarbageOrTrailingBodiesAreRefused() {
        let bytes = batch.bytes
        for cut in [0, 7, 9, 12, 20, 30, 40, 100, bytes.count - 1] { XCTAssertNil(ReceiptProofBatch(bytes: Array(bytes.prefix(cut))), "cut at \(cut)") }
        XCTAssertNil(ReceiptProofBatch(bytes: bytes + [0]), "a trailing byte")
        var tooLongNote = bytes
        tooLongNote.replaceSubrange(8..<12, with: [0x7F, 0xFF, 0xFF, 0xFF]) // a 2 GiB note claimed
        XCTAssertNil(ReceiptProofBatch(bytes: tooLongNote))
        let countAt = 12 + batch.checkpoint.count
        var tooMany = bytes
        tooMany[countAt] = 0x01; tooMany[countAt + 1] = 0x01 // 257 items
        XCTAssertNil(ReceiptProofBatch(bytes: tooMany))
        var moreThanSent = bytes
        moreThanSent[countAt + 1] = 0xFF // 255 items claimed, 2 present: refused before any is read
        XCTAssertNil(ReceiptProofBatch(bytes: moreThanSent))
        var tooManyHashes = bytes
        tooManyHashes[countAt + 2 + ReceiptProofBatch.itemFixedBytes - 1] = 64 // over the 63 a proof can need
        XCTAssertNil(ReceiptProofBatch(bytes: tooManyHashes))
        var generator = SystemRandomNumberGenerator()
        for length in [1, 13, 64, 500, 5000] {
            let garbage = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            XCTAssertNil(ReceiptProofBatch(bytes: garbage), "\(length) random bytes")
        }
    }

    func testCosignaturesAreGatheredPerCheckpointUntilTheQuorum() throws {
        let key = SigningPrivateKey.generate()
        let checkpoint = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: 3, rootHash: Array(repeating: 1, count: 32))
        let note = try SignedNote(parsing: checkpoint.signedNote(key: key))
        func cosigned(by center: String) -> SignedNote {
            note.adding([Cosignature.sign(body: note.body, name: Cosignature.name(center: center), key: SigningPrivateKey.generate(), timestamp: 1).noteSignature])
        }
        var state = ReceiptProofState()
        XCTAssertNil(state.add(cosigned(by: "GE"), by: CenterID(rawValue: "GE")!, threshold: 2))
        XCTAssertNil(state.add(cosigned(by: "GE"), by: CenterID(rawValue: "GE")!, threshold: 2), "the same witness again does not count twice")
        let complete = try XCTUnwrap(state.add(cosigned(by: "UA"), by: CenterID(rawValue: "UA")!, threshold: 2))
        XCTAssertEqual(Cosignature.all(in: complete).map(\.name).filter { $0.hasSuffix("/witness") }.count, 3, "both of GE's lines and UA's")
        XCTAssertEqual(complete.signatures.filter { $0.name == checkpoint.origin }.count, 1, "the log's signature once")
        for size in 4..<(4 + ReceiptProofState.gatheredLimit) {
            let other = try SignedNote(parsing: Checkpoint(origin: checkpoint.origin, treeSize: UInt64(size), rootHash: checkpoint.rootHash).signedNote(key: key))
            _ = state.add(other, by: CenterID(rawValue: "GE")!, threshold: 2)
        }
        XCTAssertEqual(state.gathered.count, ReceiptProofState.gatheredLimit)
        XCTAssertFalse(state.gathered.contains { $0.note.body == note.body }, "the oldest checkpoint gave way")
    }

    func testTheQuorumNoteIsReadWhenSetAndForgottenWithIt() throws {
        let key = SigningPrivateKey.generate()
        let checkpoint = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: 9, rootHash: Array(repeating: 5, count: 32))
        var state = ReceiptProofState()
        XCTAssertNil(state.quorumNote)
        state.quorum = .init(note: checkpoint.signedNote(key: key), reachedAt: Date())
        XCTAssertEqual(state.quorumCheckpoint, checkpoint)
        XCTAssertEqual(state.quorumNote?.text, checkpoint.signedNote(key: key))
        state.quorum = .init(note: "not a note", reachedAt: Date())
        XCTAssertNil(state.quorumNote, "a note that does not read is no quorum checkpoint")
        XCTAssertNil(state.quorumCheckpoint)
        state.quorum = nil
        XCTAssertNil(state.quorumCheckpoint)
    }
}
