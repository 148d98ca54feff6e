import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
@testable import IIASNode
import IIASTestSupport
import XCTest

/// The witness's state on disk: a decision persists before it returns, a second request
/// from the same old size loses the compare-and-swap, a split view leaves evidence, and a
/// restarted witness reads where it stood.
final class WitnessDeskTests: XCTestCase {
    private let logKey = SigningPrivateKey.generate()

    private func request(old: UInt64, size: UInt64, root: UInt8, proof: [[UInt8]] = []) throws -> AddCheckpointRequest {
        let checkpoint = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: size, rootHash: Array(repeating: root, count: 32))
        return try AddCheckpointRequest(oldSize: old, proof: proof, note: try SignedNote(parsing: checkpoint.signedNote(key: logKey)))
    }

    func testACosignedStateIsOnDiskAndASecondRequestFromTheSameOldSizeGets409() async throws {
        let folder = WitnessFolder(dataDirectory: try makeTemporaryDirectory("witness-desk").path)
        let desk = WitnessDesk(folder: folder)
        guard case .cosigned(let state) = try await desk.decide(try request(old: 0, size: 4, root: 1), logOf: "AZ",
                                                                 logKeys: [logKey.publicKey], now: 1_800_000_000) else {
            return XCTFail("the first checkpoint is cosigned")
        }
        XCTAssertEqual(try folder.state(ofLog: "AZ"), state, "persisted before the answer")
        guard case .answered(.conflict(let held)) = try await desk.decide(try request(old: 0, size: 4, root: 1), logOf: "AZ",
                                                                           logKeys: [logKey.publicKey], now: 1_800_000_001) else {
            return XCTFail("a second request from size 0 lost the race")
        }
        XCTAssertEqual(held, 4)
        let restarted = WitnessDesk(folder: folder)
        guard case .splitView(let evidence, let path, let new) = try await restarted.decide(try request(old: 4, size: 4, root: 2), logOf: "AZ",
                                                                                  logKeys: [logKey.publicKey], now: 1_800_000_002) else {
            return XCTFail("a restarted witness still holds size 4 and sees the other root")
        }
        XCTAssertEqual(try SplitViewEvidence(file: Array(try Data(contentsOf: URL(fileURLWithPath: path)))), evidence)
        XCTAssertNoThrow(try evidence.verify(logKeys: [logKey.publicKey]))
        XCTAssertEqual(try folder.state(ofLog: "AZ"), state, "a split view changes nothing")
        XCTAssertEqual(folder.evidenceFiles(), [path])
        XCTAssertTrue(new, "found the first time")
        guard case .splitView(_, let again, let newAgain) = try await restarted.decide(try request(old: 4, size: 4, root: 2), logOf: "AZ",
                                                                                   logKeys: [logKey.publicKey], now: 1_800_000_003) else {
            return XCTFail("the same contradiction again")
        }
        XCTAssertEqual(again, path)
        XCTAssertFalse(newAgain, "the same evidence again raises no second alarm")
    }

    func testAnUnreadableStateRefusesRatherThanStartingOver() async throws {
        let folder = WitnessFolder(dataDirectory: try makeTemporaryDirectory("witness-garbled").path)
        try FileManager.default.createDirectory(atPath: folder.dataDirectory + "/witness/logs", withIntermediateDirectories: true)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: folder.dataDirectory + "/witness/logs/AZ.json"))
        do {
            _ = try await WitnessDesk(folder: folder).decide(try request(old: 0, size: 4, root: 1), logOf: "AZ",
                                                             logKeys: [logKey.publicKey], now: 1_800_000_000)
            XCTFail("a witness that cannot read its state must not cosign from size 0")
        } catch {}
    }

    func testACosignRecordRoundTripsAndIsListedButFoldsToNothing() throws {
        let record = CosignatureRecord(log: CenterID("GE")!, treeSize: 9, rootHash: "AAAA", cosignedAt: 1_800_000_000)
        XCTAssertEqual(CosignatureRecord(json: record.encoded()), record)
        XCTAssertNil(CosignatureRecord(json: Array(#"{"action":"cosign","log":"GE"}"#.utf8)))
        XCTAssertNil(CosignatureRecord(json: Array(#"{"action":"cosign","log":"GE","treeSize":9,"rootHash":"A","cosignedAt":1,"x":1}"#.utf8)))
        let summary = LogEntrySummary(LogEntry(index: 3, timeMilliseconds: 1, type: .operatorAction, payload: record.encoded()))
        XCTAssertEqual(summary.action, "cosign")
        XCTAssertEqual(summary.checkpoint, "GE size 9 root AAAA")
        XCTAssertNil(summary.problem)
        XCTAssertTrue(summary.hasType("cosign"))
        var ledger = Ledger(center: CenterID("AZ")!)
        ledger.apply(LogEntry(index: 0, timeMilliseconds: 1, type: .operatorAction, payload: record.encoded()))
        XCTAssertTrue(ledger.skipped.isEmpty, "\(ledger.skipped)")
        XCTAssertEqual(ledger.folded, 1)
        ledger.apply(LogEntry(index: 1, timeMilliseconds: 1, type: .operatorAction, payload: Array("{}".utf8)))
        XCTAssertEqual(ledger.skipped.count, 1, "an unreadable action is still noted")
    }
}
