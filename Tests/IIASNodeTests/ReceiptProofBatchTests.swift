import Foundation
import IIASCrypto
import IIASLog
@testable import IIASModel
@testable import IIASNode
import XCTest

/// The RECEIPT_PROOF body read back exactly, every count and length bounded before it is
/// used; and the gathering of cosignatures up to the quorum.
final class ReceiptProofBatchTests: XCTestCase {
    private let batch = ReceiptProofBatch(through: 42, items: [
        .init(envelopeID: UUID(), sha256: Array(repeating: 7, count: 32), bundle: Array("c2sp.org/tlog-proof@v1\n".utf8)),
        .init(envelopeID: UUID(), sha256: Array(repeating: 9, count: 32), bundle: []),
    ])

    func testABatchReadsBackAsWritten() {
        XCTAssertEqual(ReceiptProofBatch(bytes: batch.bytes), batch)
        XCTAssertEqual(ReceiptProofBatch.acknowledged(ReceiptProofBatch.acknowledgement(42)), 42)
        XCTAssertNil(ReceiptProofBatch.acknowledged([0, 0, 0]))
    }

    func testTruncatedOversizedOrTrailingBodiesAreRefused() {
        let bytes = batch.bytes
        for cut in [0, 7, 9, 10, 30, bytes.count - 1] { XCTAssertNil(ReceiptProofBatch(bytes: Array(bytes.prefix(cut))), "cut at \(cut)") }
        XCTAssertNil(ReceiptProofBatch(bytes: bytes + [0]), "a trailing byte")
        var tooMany = bytes
        tooMany[8] = 0x01; tooMany[9] = 0x01 // 257 items
        XCTAssertNil(ReceiptProofBatch(bytes: tooMany))
        var tooLong = bytes
        let lengthAt = 10 + 16 + 32
        tooLong.replaceSubrange(lengthAt..<(lengthAt + 4), with: [0x7F, 0xFF, 0xFF, 0xFF]) // 2 GiB claimed
        XCTAssertNil(ReceiptProofBatch(bytes: tooLong))
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
}
