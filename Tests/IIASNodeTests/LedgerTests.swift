import Foundation
import IIASCrypto
import IIASLog
import IIASModel
@testable import IIASNode
import IIASTestSupport
import XCTest

/// The fold: every delivery state and inbox flag follows from the entries alone.
final class LedgerTests: XCTestCase {
    private func keys(_ center: String) throws -> CenterKeys { try CenterKeys(directory: TestPKI.shared.centerDirectory(center)) }

    private func seal(from sender: String, to recipients: [String]) throws -> Envelope {
        let document: [String: Any] = [
            "version": 1, "id": UUID().uuidString.lowercased(), "sender": sender, "recipients": recipients,
            "created": "2026-11-24T12:00:00Z", "kind": "notification", "category": "cybercrime", "priority": "routine",
            "handling": ["tlp": "TLP:GREEN"], "subject": "Ledger test", "summary": "Folded.", "entities": [],
        ]
        var recipientKeys: [CenterID: EncryptionPublicKey] = [:]
        for recipient in recipients {
            recipientKeys[CenterID(rawValue: recipient)!] = try Certificate(pemFile: "\(TestPKI.shared.centerDirectory(recipient))/encryption.crt").encryptionPublicKey()
        }
        return try Envelope.seal(try FormalNotification.parse(try JSONSerialization.data(withJSONObject: document)),
                                 signer: try keys(sender).signingKey, recipientKeys: recipientKeys)
    }

    private var next: UInt64 = 0
    private func entry(_ type: EntryType, _ payload: [UInt8]) -> LogEntry {
        defer { next += 1 }
        return LogEntry(index: next, timeMilliseconds: 1_764_000_000_000 + Int64(next), type: type, payload: payload)
    }

    func testDeliveryStatesFollowReceipts() throws {
        var ledger = Ledger(center: CenterID(rawValue: "AZ")!)
        let sent = try seal(from: "AZ", to: ["GE", "UA"])
        ledger.apply(entry(.sent, sent.bytes))
        XCTAssertEqual(ledger.outgoing[sent.id]?.delivery.values.map(\.state), [.queued, .queued])
        XCTAssertEqual(ledger.pending(for: CenterID(rawValue: "GE")!), [sent.id])

        let delivered = Envelope.receipt(for: sent, from: CenterID(rawValue: "GE")!, signer: try keys("GE").signingKey, outcome: .delivered, logIndex: 7)
        ledger.apply(entry(.receipt, delivered.bytes))
        let ge = try XCTUnwrap(ledger.outgoing[sent.id]?.delivery[CenterID(rawValue: "GE")!])
        XCTAssertEqual(ge.state, .delivered)
        XCTAssertEqual(ge.recipientLogIndex, 7)
        XCTAssertEqual(ledger.pending(for: CenterID(rawValue: "GE")!), [])
        XCTAssertEqual(ledger.pending(for: CenterID(rawValue: "UA")!), [sent.id], "UA has not answered")

        let refused = Envelope.receipt(for: sent, from: CenterID(rawValue: "UA")!, signer: try keys("UA").signingKey, outcome: .refused,
                                       reason: .clockSkew, detail: "created 400 s from our clock")
        ledger.apply(entry(.receipt, refused.bytes))
        let ua = try XCTUnwrap(ledger.outgoing[sent.id]?.delivery[CenterID(rawValue: "UA")!])
        XCTAssertEqual(ua.state, .refused)
        XCTAssertEqual(ua.reason, "clock-skew")
        XCTAssertEqual(ledger.pending(for: CenterID(rawValue: "UA")!), [])

        // A second receipt changes nothing; an acknowledgement moves GE on.
        ledger.apply(entry(.receipt, refused.bytes))
        XCTAssertEqual(ledger.outgoing[sent.id]?.delivery[CenterID(rawValue: "UA")!]?.state, .refused)
        let ack = Envelope.receipt(for: sent, from: CenterID(rawValue: "GE")!, signer: try keys("GE").signingKey, outcome: .acknowledged, logIndex: 9)
        ledger.apply(entry(.receipt, ack.bytes))
        XCTAssertEqual(ledger.outgoing[sent.id]?.delivery[CenterID(rawValue: "GE")!]?.state, .acknowledged)
        XCTAssertEqual(ledger.incoming[ack.id]?.isAcknowledgement, true, "kept to answer a duplicate acknowledgement")
        XCTAssertTrue(ledger.inboxOrder.isEmpty, "acknowledgements are not inbox items")
    }

    func testInboxFlagsAndDuplicates() throws {
        var ledger = Ledger(center: CenterID(rawValue: "GE")!)
        let received = try seal(from: "AZ", to: ["GE"])
        ledger.apply(entry(.received, received.bytes))
        ledger.apply(entry(.received, received.bytes))
        XCTAssertEqual(ledger.inboxOrder, [received.id], "a duplicate entry does not make a second inbox item")
        XCTAssertEqual(ledger.incoming[received.id]?.index, 0, "the first entry counts")
        let actor = Actor(user: "alice", uid: 1001, role: .operator)
        ledger.apply(entry(.operatorAction, OperatorAction(action: .read, envelope: received.id, actor: actor).encoded()))
        XCTAssertEqual(ledger.incoming[received.id]?.read, true)
        XCTAssertNil(ledger.incoming[received.id]?.acknowledged)
        ledger.apply(entry(.operatorAction, OperatorAction(action: .acknowledge, envelope: received.id, actor: actor).encoded()))
        XCTAssertEqual(ledger.incoming[received.id]?.acknowledgedBy, "alice")
        XCTAssertNotNil(ledger.incoming[received.id]?.acknowledged)
    }

    func testSubmitActionBeforeItsEnvelopeAndGarbage() throws {
        var ledger = Ledger(center: CenterID(rawValue: "AZ")!)
        let sent = try seal(from: "AZ", to: ["GE"])
        let actor = Actor(user: "bob", uid: 1002, role: .operator)
        ledger.apply(entry(.operatorAction, OperatorAction(action: .submit, envelope: sent.id, actor: actor, sealedSummary: Data([1, 2, 3])).encoded()))
        ledger.apply(entry(.sent, sent.bytes))
        XCTAssertEqual(ledger.outgoing[sent.id]?.submittedBy, "bob", "the submit action logged first still attaches")
        XCTAssertEqual(ledger.outgoing[sent.id]?.summary, Data([1, 2, 3]))
        ledger.apply(entry(.received, Array("not an envelope".utf8)))
        ledger.apply(entry(.operatorAction, Array("{not json".utf8)))
        XCTAssertEqual(ledger.skipped.count, 2)
        XCTAssertEqual(ledger.skipped.map(\.index), [2, 3])
        XCTAssertEqual(ledger.outgoingOrder, [sent.id])
    }
}
