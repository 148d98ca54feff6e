import Foundation
import IIASCrypto
import IIASLog
import IIASModel
@testable import IIASAPI
@testable import IIASNode
import IIASTestSupport
import XCTest

/// The fold: every delivery state and inbox flag follows from the entries alone.
final class LedgerTests: XCTestCase {
    private func keys(_ center: String) throws -> CenterKeys { try CenterKeys(directory: TestPKI.shared.centerDirectory(center)) }

    private func seal(from sender: String, to recipients: [String], id: UUID = UUID()) throws -> Envelope {
        let document: [String: Any] = [
            "version": 1, "id": id.uuidString.lowercased(), "sender": sender, "recipients": recipients,
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
        XCTAssertEqual(ledger.incoming[CenterID(rawValue: "GE")!, ack.id]?.isAcknowledgement, true, "kept to answer a duplicate acknowledgement")
        XCTAssertTrue(ledger.inboxOrder.isEmpty, "acknowledgements are not inbox items")
    }

    /// One batch entry settles every envelope it names, each with its own recipient log
    /// index and the batch's entry as its receipt; envelopes it names again later (a
    /// resent copy answered in another batch), another center's, or unknown ones, change nothing.
    func testABatchOfReceiptsSettlesEachEnvelopeItNames() throws {
        var ledger = Ledger(center: CenterID(rawValue: "AZ")!)
        let ge = CenterID(rawValue: "GE")!
        let sent = try (0..<3).map { _ in try seal(from: "AZ", to: ["GE", "UA"]) }
        for envelope in sent { ledger.apply(entry(.sent, envelope.bytes)) }
        let receipts = sent.prefix(2).enumerated().map {
            Receipt(envelopeID: $0.element.id, envelopeSHA256: $0.element.sha256, outcome: .delivered, logIndex: UInt64(70 + $0.offset))
        }
        let batch = Envelope.receiptBatch(receipts, to: CenterID(rawValue: "AZ")!, from: ge, signer: try keys("GE").signingKey)
        let batchEntry = entry(.receipt, batch.bytes)
        ledger.apply(batchEntry)
        for (offset, envelope) in sent.prefix(2).enumerated() {
            let delivery = try XCTUnwrap(ledger.outgoing[envelope.id]?.delivery[ge])
            XCTAssertEqual(delivery.state, .delivered)
            XCTAssertEqual(delivery.recipientLogIndex, UInt64(70 + offset))
            XCTAssertEqual(delivery.receiptLogIndex, batchEntry.index)
            XCTAssertEqual(ledger.outgoing[envelope.id]?.delivery[CenterID(rawValue: "UA")!]?.state, .queued, "UA has not answered")
        }
        XCTAssertEqual(ledger.pending(for: ge), [sent[2].id])

        // The second envelope again at another index (a recipient refilled after a restore
        // logged it again: the newer receipt names where, and the receipt entry is the newer
        // one; it stays delivered), the third for the first time, and one we never sent.
        let again = [Receipt(envelopeID: sent[1].id, envelopeSHA256: sent[1].sha256, outcome: .delivered, logIndex: 99),
                     Receipt(envelopeID: sent[2].id, envelopeSHA256: sent[2].sha256, outcome: .delivered, logIndex: 72),
                     Receipt(envelopeID: UUID(), envelopeSHA256: sent[2].sha256, outcome: .delivered, logIndex: 73)]
        let second = entry(.receipt, Envelope.receiptBatch(again, to: CenterID(rawValue: "AZ")!, from: ge, signer: try keys("GE").signingKey).bytes)
        ledger.apply(second)
        XCTAssertEqual(ledger.outgoing[sent[1].id]?.delivery[ge]?.recipientLogIndex, 99)
        XCTAssertEqual(ledger.outgoing[sent[1].id]?.delivery[ge]?.receiptLogIndex, second.index)
        XCTAssertEqual(ledger.outgoing[sent[1].id]?.delivery[ge]?.state, .delivered)
        XCTAssertEqual(ledger.outgoing[sent[2].id]?.delivery[ge]?.recipientLogIndex, 72)
        XCTAssertEqual(ledger.pending(for: ge), [])
    }

    /// A refusal under the null id (bytes the recipient could not parse) settles nothing in
    /// the fold, which keeps no digests: it waits for the node to match it by digest, and
    /// then settles the envelope once, with the refusal's entry, reason and time.
    func testARefusalUnderTheNullIDWaitsToBeMatchedByDigest() throws {
        var ledger = Ledger(center: CenterID(rawValue: "AZ")!)
        let ge = CenterID(rawValue: "GE")!
        let sent = try seal(from: "AZ", to: ["GE"])
        ledger.apply(entry(.sent, sent.bytes))
        let refusal = Envelope.receipt(answering: Ledger.unparsedEnvelopeID, sha256: sent.sha256, to: CenterID(rawValue: "AZ")!, from: ge,
                                       signer: try keys("GE").signingKey, outcome: .refused, reason: .invalid, detail: "unsupported version")
        let refusalEntry = entry(.receipt, refusal.bytes)
        ledger.apply(refusalEntry)
        XCTAssertEqual(ledger.deliveryState(of: sent.id, for: ge), .queued, "the fold cannot tell which envelope it answers")
        let waiting = ledger.takeRefusalsByDigest()
        XCTAssertEqual(waiting.map(\.entry), [refusalEntry.index])
        XCTAssertEqual(waiting.first?.receipt.envelopeSHA256, sent.sha256)
        XCTAssertTrue(ledger.takeRefusalsByDigest().isEmpty, "taken once")
        XCTAssertTrue(ledger.settle(sent.id, with: waiting[0]))
        let delivery = try XCTUnwrap(ledger.outgoing[sent.id]?.delivery[ge])
        XCTAssertEqual(delivery.state, .refused)
        XCTAssertEqual(delivery.reason, "invalid")
        XCTAssertEqual(delivery.receiptLogIndex, refusalEntry.index)
        XCTAssertFalse(ledger.settle(sent.id, with: waiting[0]), "an answered envelope stays answered")
        // A refusal naming an unknown id (not the null one) is not a candidate.
        ledger.apply(entry(.receipt, Envelope.receipt(answering: UUID(), sha256: sent.sha256, to: CenterID(rawValue: "AZ")!, from: ge,
                                                      signer: try keys("GE").signingKey, outcome: .refused, reason: .invalid).bytes))
        XCTAssertTrue(ledger.takeRefusalsByDigest().isEmpty)
    }

    func testInboxFlagsAndDuplicates() throws {
        var ledger = Ledger(center: CenterID(rawValue: "GE")!)
        let received = try seal(from: "AZ", to: ["GE"])
        ledger.apply(entry(.received, received.bytes))
        ledger.apply(entry(.received, received.bytes))
        let az = CenterID(rawValue: "AZ")!
        XCTAssertEqual(ledger.inboxOrder, [EnvelopeKey(sender: az, id: received.id)], "a duplicate entry does not make a second inbox item")
        XCTAssertEqual(ledger.incoming[az, received.id]?.index, 0, "the first entry counts")
        let actor = LocalUser(user: "alice", uid: 1001, role: .operator)
        ledger.apply(entry(.operatorAction, OperatorAction(action: .read, envelope: received.id, sender: az, actor: actor).encoded()))
        XCTAssertEqual(ledger.incoming[az, received.id]?.read, true)
        XCTAssertNil(ledger.incoming[az, received.id]?.acknowledged)
        ledger.apply(entry(.operatorAction, OperatorAction(action: .acknowledge, envelope: received.id, sender: az, actor: actor).encoded()))
        XCTAssertEqual(ledger.incoming[az, received.id]?.acknowledgedBy, "alice")
        XCTAssertNotNil(ledger.incoming[az, received.id]?.acknowledged)
    }

    /// Every consultation is logged: a repeated read by another user and listings are
    /// entries the fold reads without changing state or noting them as unreadable.
    func testRepeatedReadsAndConsultationsFoldWithoutChangingState() throws {
        var ledger = Ledger(center: CenterID(rawValue: "GE")!)
        let received = try seal(from: "AZ", to: ["GE"])
        let az = CenterID(rawValue: "AZ")!
        ledger.apply(entry(.received, received.bytes))
        let alice = LocalUser(user: "alice", uid: 1001, role: .operator), bob = LocalUser(user: "bob", uid: 1002, role: .operator)
        let listing = Consultation(view: .inbox, actor: alice, query: "unread=true", shown: [.init(sender: az, id: received.id)], asOf: 1)
        ledger.apply(entry(.operatorAction, listing.encoded()))
        XCTAssertEqual(ledger.incoming[az, received.id]?.read, false, "listing is not reading")
        ledger.apply(entry(.operatorAction, OperatorAction(action: .read, envelope: received.id, sender: az, actor: alice).encoded()))
        ledger.apply(entry(.operatorAction, OperatorAction(action: .read, envelope: received.id, sender: az, actor: bob).encoded()))
        ledger.apply(entry(.operatorAction, Consultation(view: .events, actor: bob, query: "", shown: [], asOf: 4).encoded()), decoded: nil)
        XCTAssertEqual(ledger.incoming[az, received.id]?.read, true)
        XCTAssertEqual(ledger.unreadCount, 0)
        XCTAssertTrue(ledger.skipped.isEmpty, "\(ledger.skipped)")
        XCTAssertEqual(ledger.folded, 5)

        XCTAssertEqual(Consultation(json: listing.encoded()), listing)
        XCTAssertNil(OperatorAction(json: listing.encoded()), "an older parser does not take a consultation for an action")
        XCTAssertNil(Consultation(json: OperatorAction(action: .read, envelope: received.id, sender: az, actor: alice).encoded()))
        let many = (0..<(Consultation.maximumNamed + 5)).map { _ in Consultation.Named(sender: az, id: UUID()) }
        let large = Consultation(view: .outbox, actor: alice, query: "", shown: many, asOf: 9)
        XCTAssertEqual(large.count, Consultation.maximumNamed + 5)
        XCTAssertEqual(large.notifications.count, Consultation.maximumNamed)
        XCTAssertNil(Consultation(json: Array(String(decoding: listing.encoded(), as: UTF8.self).replacingOccurrences(of: "AZ/", with: "AZ:").utf8)))

        // What an auditor lists: headers and who read what, never the subject.
        let summary = LogEntrySummary(entry(.received, received.bytes))
        XCTAssertEqual(summary.sender, "AZ")
        XCTAssertEqual(summary.recipients, ["GE"])
        XCTAssertEqual(summary.kind, "notification")
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(summary), as: UTF8.self).contains("Ledger test"))
        let logged = LogEntrySummary(entry(.operatorAction, listing.encoded()))
        XCTAssertEqual(logged.notifications, ["AZ/\(received.id.uuidString.uppercased())"])
        XCTAssertEqual([logged.action, logged.view, logged.user, logged.query], ["consult", "inbox", "alice", "unread=true"])
        XCTAssertTrue(logged.hasType("consult") && logged.hasType("inbox") && logged.hasType("operatorAction") && !logged.hasType("read"))
        var weakened = OperatorAction(action: .submit, envelope: UUID(), actor: alice, encryptedSummary: Data([1]))
        weakened.weakenedHandling = true
        XCTAssertEqual(LogEntrySummary(entry(.operatorAction, weakened.encoded())).weakenedHandling, true, "an explicit downgrade shows")
    }

    /// Identity is (sender, id): UA reusing the id of AZ's notification makes a second
    /// inbox item, neither shadows the other, reads and acknowledgements name one of them,
    /// and a snapshot keeps both.
    func testIncomingEnvelopesAreKeyedOnSenderAndID() throws {
        var ledger = Ledger(center: CenterID(rawValue: "MD")!)
        let az = CenterID(rawValue: "AZ")!, ua = CenterID(rawValue: "UA")!, ge = CenterID(rawValue: "GE")!
        let id = UUID()
        let squat = try seal(from: "UA", to: ["MD"], id: id)
        let genuine = try seal(from: "AZ", to: ["MD"], id: id)
        ledger.apply(entry(.received, squat.bytes))
        ledger.apply(entry(.received, genuine.bytes))
        ledger.apply(entry(.received, genuine.bytes))
        XCTAssertEqual(ledger.inboxOrder, [EnvelopeKey(sender: ua, id: id), EnvelopeKey(sender: az, id: id)],
                       "both are inbox items, each under its sender; AZ's duplicate is not a third")
        XCTAssertEqual(ledger.incoming[ua, id]?.index, 0)
        XCTAssertEqual(ledger.incoming[az, id]?.index, 1, "AZ's first copy, not UA's envelope")
        XCTAssertNil(ledger.incoming[ge, id], "GE sent nothing under this id")
        XCTAssertEqual(ledger.inboxMatches(id).map(\.sender), [ua, az], "the id alone is ambiguous")
        XCTAssertEqual(ledger.inboxMatches(id, from: az).map(\.index), [1])

        // A read names its sender; an action written before actions named one takes the first.
        let alice = LocalUser(user: "alice", uid: 1001, role: .operator)
        ledger.apply(entry(.operatorAction, OperatorAction(action: .acknowledge, envelope: id, sender: az, actor: alice).encoded()))
        XCTAssertEqual(ledger.incoming[az, id]?.acknowledgedBy, "alice")
        XCTAssertEqual(ledger.incoming[ua, id]?.read, false, "acknowledging AZ's does not touch UA's")
        ledger.apply(entry(.operatorAction, OperatorAction(action: .read, envelope: id, actor: alice).encoded()))
        XCTAssertEqual(ledger.incoming[ua, id]?.read, true, "a legacy read without a sender: the first envelope with the id")

        // An acknowledgement from GE under the same id is a third, separate envelope.
        let ours = try seal(from: "MD", to: ["GE"])
        ledger.apply(entry(.sent, ours.bytes))
        let ack = Envelope.receipt(answering: ours.id, sha256: ours.sha256, to: CenterID(rawValue: "MD")!, from: ge,
                                   signer: try keys("GE").signingKey, outcome: .acknowledged, logIndex: 3, id: id)
        ledger.apply(entry(.receipt, ack.bytes))
        XCTAssertEqual(ledger.incoming[ge, id]?.isAcknowledgement, true)
        XCTAssertEqual(ledger.inboxMatches(id).count, 2, "acknowledgements are not inbox items")
        XCTAssertEqual(ledger.outgoing[ours.id]?.delivery[ge]?.state, .acknowledged)

        // The snapshot's format is unchanged; it now loads two envelopes with one id from two senders.
        let loaded = try Ledger(snapshot: ledger.snapshot(root: Merkle.emptyRoot), center: ledger.center)
        XCTAssertEqual(loaded.inboxOrder, ledger.inboxOrder)
        XCTAssertEqual(loaded.incoming[az, id]?.acknowledgedBy, "alice")
        XCTAssertEqual(loaded.incoming[ua, id]?.index, 0)
        XCTAssertEqual(loaded.incoming(withID: id).map(\.sender), [ua, az, ge])
    }

    /// A draft may not reuse an id the node knows in either direction.
    func testKnownUseOfAnIdCoversBothDirections() throws {
        var ledger = Ledger(center: CenterID(rawValue: "MD")!)
        let sent = try seal(from: "MD", to: ["GE"])
        let received = try seal(from: "UA", to: ["MD"])
        ledger.apply(entry(.sent, sent.bytes))
        ledger.apply(entry(.received, received.bytes))
        XCTAssertEqual(ledger.knownUse(of: sent.id), "sent by this node")
        XCTAssertEqual(ledger.knownUse(of: received.id), "received from UA")
        XCTAssertNil(ledger.knownUse(of: UUID()))
        let same = try seal(from: "AZ", to: ["MD"], id: received.id)
        ledger.apply(entry(.received, same.bytes))
        XCTAssertEqual(ledger.knownUse(of: received.id), "received from UA, AZ")
    }

    /// What an operator types names one notification, or is refused with the candidates.
    func testAShortIdTwoCentersUsedIsAmbiguousUntilTheSenderIsNamed() throws {
        let az = CenterID(rawValue: "AZ")!, ua = CenterID(rawValue: "UA")!
        let shared = UUID(uuidString: "3f2a9c1e-0000-4000-8000-000000000001")!
        let other = UUID(uuidString: "3f2b0000-0000-4000-8000-000000000002")!
        let inbox = [EnvelopeKey(sender: ua, id: shared), EnvelopeKey(sender: az, id: shared), EnvelopeKey(sender: az, id: other)]
        XCTAssertThrowsError(try InboxReference("3f2a").resolve(among: inbox)) { error in
            let problem = error as? InboxReference.Problem
            XCTAssertTrue(problem?.message.contains("UA/3f2a9c1e-0000-4000-8000-000000000001") == true, "\(error)")
            XCTAssertTrue(problem?.message.contains("AZ/3f2a9c1e-0000-4000-8000-000000000001") == true, "\(error)")
            XCTAssertTrue(problem?.hint?.contains("AZ/3f2a") == true || problem?.hint?.contains("UA/3f2a") == true, "\(String(describing: problem?.hint))")
        }
        XCTAssertEqual(try InboxReference("AZ/3f2a").resolve(among: inbox), EnvelopeKey(sender: az, id: shared))
        XCTAssertEqual(try InboxReference("3f2a", from: "UA").resolve(among: inbox), EnvelopeKey(sender: ua, id: shared))
        XCTAssertEqual(try InboxReference("3F2B").resolve(among: inbox), EnvelopeKey(sender: az, id: other), "one match: no sender needed")
        XCTAssertThrowsError(try InboxReference(shared.uuidString).resolve(among: inbox), "a full id two centers used is ambiguous too")
        XCTAssertEqual(try InboxReference("UA/" + shared.uuidString).fullID, shared)
        XCTAssertThrowsError(try InboxReference("AZ/3f2a", from: "UA"), "two different senders")
        XCTAssertThrowsError(try InboxReference("az/3f2a"), "not a center id")
        XCTAssertThrowsError(try InboxReference("3f2"), "too short, refused before any lookup")
        XCTAssertEqual(Self.problem(""), "an empty id names no notification")
        XCTAssertEqual(Self.problem("AZ/"), "an empty id names no notification")
        XCTAssertThrowsError(try InboxReference("GE/3f2a").resolve(among: inbox), "GE sent none")
    }

    /// Why `text` is refused as a reference before any lookup, or nil.
    private static func problem(_ text: String) -> String? {
        do throws(InboxReference.Problem) { _ = try InboxReference(text); return nil } catch { return error.message }
    }

    func testSubmitActionBeforeItsEnvelopeAndGarbage() throws {
        var ledger = Ledger(center: CenterID(rawValue: "AZ")!)
        let sent = try seal(from: "AZ", to: ["GE"])
        let actor = LocalUser(user: "bob", uid: 1002, role: .operator)
        ledger.apply(entry(.operatorAction, OperatorAction(action: .submit, envelope: sent.id, actor: actor, sealedSummary: Data([1, 2, 3])).encoded()))
        ledger.apply(entry(.sent, sent.bytes))
        XCTAssertEqual(ledger.outgoing[sent.id]?.submittedBy, "bob", "the submit action logged first still attaches")
        XCTAssertEqual(ledger.outgoing[sent.id]?.summaryIndex, 0, "the submit action (entry 0) holds the sealed summary")
        ledger.apply(entry(.received, Array("not an envelope".utf8)))
        ledger.apply(entry(.operatorAction, Array("{not json".utf8)))
        XCTAssertEqual(ledger.skipped.count, 2)
        XCTAssertEqual(ledger.skipped.map(\.index), [2, 3])
        XCTAssertEqual(ledger.outgoingOrder, [sent.id])
    }

    /// A ledger with every kind of state: sent with a submit action, delivered, refused,
    /// acknowledged, received, read, acknowledged by an operator, a garbage entry.
    private func busyLedger() throws -> (Ledger, sent: Envelope, received: Envelope) {
        var ledger = Ledger(center: CenterID(rawValue: "AZ")!)
        let sent = try seal(from: "AZ", to: ["GE", "UA"])
        let alice = LocalUser(user: "alice", uid: 1001, role: .operator)
        ledger.apply(entry(.operatorAction, OperatorAction(action: .submit, envelope: sent.id, actor: alice, sealedSummary: Data([9])).encoded()))
        ledger.apply(entry(.sent, sent.bytes))
        ledger.apply(entry(.receipt, Envelope.receipt(for: sent, from: CenterID(rawValue: "GE")!, signer: try keys("GE").signingKey,
                                                      outcome: .delivered, logIndex: 4).bytes))
        ledger.apply(entry(.receipt, Envelope.receipt(for: sent, from: CenterID(rawValue: "UA")!, signer: try keys("UA").signingKey,
                                                      outcome: .refused, reason: .clockSkew, detail: "late").bytes))
        let received = try seal(from: "GE", to: ["AZ"])
        ledger.apply(entry(.received, received.bytes))
        ledger.apply(entry(.operatorAction, OperatorAction(action: .acknowledge, envelope: received.id, actor: alice).encoded()))
        ledger.apply(entry(.received, Array("garbage".utf8)))
        return (ledger, sent, received)
    }

    func testSnapshotRoundTripsEveryState() throws {
        let (ledger, sent, received) = try busyLedger()
        let root = Array(repeating: UInt8(7), count: 32)
        let loaded = try Ledger(snapshot: ledger.snapshot(root: root), center: ledger.center)
        XCTAssertEqual(loaded.snapshotRoot, root)
        XCTAssertEqual(loaded.folded, ledger.folded)
        XCTAssertTrue(loaded.isContiguous)
        XCTAssertEqual(loaded.outgoing[sent.id]?.delivery.values, ledger.outgoing[sent.id]?.delivery.values)
        XCTAssertEqual(loaded.outgoing[sent.id]?.submittedBy, "alice")
        XCTAssertEqual(loaded.outgoing[sent.id]?.summaryIndex, 0)
        XCTAssertEqual(loaded.outgoing[sent.id]?.delivery[CenterID(rawValue: "UA")!]?.reason, "clock-skew")
        let ge = CenterID(rawValue: "GE")!
        let incoming = try XCTUnwrap(loaded.incoming[ge, received.id])
        XCTAssertEqual(incoming.acknowledgedBy, "alice")
        XCTAssertTrue(incoming.read)
        XCTAssertEqual(incoming.index, ledger.incoming[ge, received.id]?.index)
        XCTAssertEqual(loaded.inboxOrder, [EnvelopeKey(sender: ge, id: received.id)])
        XCTAssertEqual(loaded.skipped.map(\.index), ledger.skipped.map(\.index))
        XCTAssertEqual(loaded.pending(for: CenterID(rawValue: "GE")!), [], "GE delivered")
        // Folding goes on from where the snapshot ends.
        var next = loaded
        let later = try seal(from: "AZ", to: ["GE"])
        next.apply(LogEntry(index: loaded.folded, timeMilliseconds: 1_764_000_100_000, type: .sent, payload: later.bytes))
        XCTAssertEqual(next.pending(for: CenterID(rawValue: "GE")!), [later.id])
        XCTAssertNil(loaded.outgoing[later.id], "the loaded copy is a value")
    }

    /// A version 1 snapshot came from a ledger that also kept wire progress: a waiting
    /// delivery's time may be when it was last written. It still loads, and the times of
    /// waiting deliveries are taken from the log again; answered ones keep theirs.
    func testVersion1SnapshotLoadsWithWaitingTimesReadFromTheLog() throws {
        var ledger = Ledger(center: CenterID(rawValue: "AZ")!)
        let waiting = try seal(from: "AZ", to: ["GE"]), answered = try seal(from: "AZ", to: ["GE"])
        let waitingEntry = entry(.sent, waiting.bytes)
        ledger.apply(waitingEntry)
        ledger.apply(entry(.sent, answered.bytes))
        let receipt = Envelope.receipt(for: answered, from: CenterID(rawValue: "GE")!, signer: try keys("GE").signingKey, outcome: .delivered, logIndex: 3)
        let receiptEntry = entry(.receipt, receipt.bytes)
        ledger.apply(receiptEntry)
        let written = waitingEntry.timeMilliseconds + 60_000
        ledger.deliveries[0].updatedMilliseconds = written

        let current = ledger.snapshot(root: Merkle.emptyRoot)
        XCTAssertEqual(Array(current.prefix(8)), Array("IIASLDG2".utf8))
        XCTAssertFalse(try Ledger(snapshot: current, center: ledger.center).snapshotTimesNeedLog)
        var old = try Ledger(snapshot: Array("IIASLDG1".utf8) + current.dropFirst(8), center: ledger.center)
        XCTAssertTrue(old.snapshotTimesNeedLog)
        XCTAssertEqual(old.outgoing[waiting.id]?.delivery.values.first?.updated, Ledger.date(written))
        var asked: [UInt64] = []
        old.restoreLoggedTimes { index in asked.append(index); return index == waitingEntry.index ? waitingEntry.timeMilliseconds : -1 }
        XCTAssertEqual(asked, [waitingEntry.index], "only envelopes still waiting are read back")
        XCTAssertFalse(old.snapshotTimesNeedLog)
        XCTAssertEqual(old.outgoing[waiting.id]?.delivery.values.first?.updated, Ledger.date(waitingEntry.timeMilliseconds))
        XCTAssertEqual(old.outgoing[answered.id]?.delivery.values.first?.updated, Ledger.date(receiptEntry.timeMilliseconds))
        XCTAssertEqual(old.pending(for: CenterID(rawValue: "GE")!), [waiting.id])
    }

    func testDamagedTruncatedForeignAndGarbageSnapshotsAreRefused() throws {
        let (ledger, _, _) = try busyLedger()
        let bytes = ledger.snapshot(root: Merkle.emptyRoot)
        func refused(_ candidate: [UInt8], center: String = "AZ", _ expected: String, line: UInt = #line) {
            XCTAssertThrowsError(try Ledger(snapshot: candidate, center: CenterID(rawValue: center)!), line: line) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)", line: line)
            }
        }
        for position in stride(from: 8, to: bytes.count, by: max(1, bytes.count / 40)) {
            var flipped = bytes
            flipped[position] ^= 0x01
            // A flip in the folded count or root is caught by the caller's root check; the rest here.
            if position >= 8 && position < 48 {
                if let loaded = try? Ledger(snapshot: flipped, center: ledger.center) {
                    XCTAssertTrue(loaded.folded != ledger.folded || loaded.snapshotRoot != Merkle.emptyRoot, "position \(position)")
                }
                continue
            }
            refused(flipped, "checksum")
        }
        for length in [0, 7, 40, 80, bytes.count - 1] { refused(Array(bytes.prefix(length)), "unreadable") }
        refused(bytes, center: "GE", "another center")
        refused(Array("IIASLDG1".utf8) + [UInt8](repeating: 0xff, count: 200), "unreadable")
        refused(Array(repeating: 0, count: 1 << 16), "unreadable")
        // Well formed and checksummed, but one envelope listed twice.
        for outgoing in [true, false] {
            var twice = ledger
            if outgoing {
                twice.outgoingIDs.append(twice.outgoingIDs[0])
                twice.outgoingRecords.append(twice.outgoingRecords[0])
            } else {
                twice.incomingIDs.append(twice.incomingIDs[0])
                twice.incomingRecords.append(twice.incomingRecords[0])
            }
            refused(twice.snapshot(root: Merkle.emptyRoot), "occurs twice")
        }
    }

    /// Operator actions are read with the model's JSON reader: what older nodes wrote with
    /// `JSONEncoder` reads the same, what the writer writes reads back, anything else is nil.
    func testOperatorActionJSONRoundTripsAndReadsJSONEncoderOutput() throws {
        let actor = LocalUser(user: "alice", uid: 1001, role: .operator)
        let summary = Data((0..<200).map { UInt8($0) })   // its base64 holds "/" and "+"
        let action = OperatorAction(action: .submit, envelope: UUID(), actor: actor, sealedSummary: summary)
        XCTAssertEqual(OperatorAction(json: action.encoded()), action)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let legacy = Array(try encoder.encode(action))
        XCTAssertTrue(String(decoding: legacy, as: UTF8.self).contains("\\/"), "JSONEncoder escapes the slash")
        XCTAssertEqual(OperatorAction(json: legacy), action)
        let encrypted = OperatorAction(action: .submit, envelope: UUID(), actor: actor, encryptedSummary: summary)
        XCTAssertEqual(OperatorAction(json: encrypted.encoded()), encrypted)
        XCTAssertEqual(try JSONDecoder().decode(OperatorAction.self, from: Data(encrypted.encoded())), encrypted)
        let read = OperatorAction(action: .read, envelope: UUID(), actor: actor)
        XCTAssertEqual(OperatorAction(json: read.encoded()), read)
        XCTAssertEqual(try JSONDecoder().decode(OperatorAction.self, from: Data(read.encoded())), read, "still valid for Codable readers")
        for garbage in ["", "{", "[]", "{\"action\":\"submit\"}", "{\"action\":\"fly\",\"envelope\":\"\(UUID())\",\"user\":\"a\",\"uid\":1}",
                        "{\"action\":\"read\",\"envelope\":\"\(UUID())\",\"user\":\"a\",\"uid\":-1}",
                        "{\"action\":\"read\",\"envelope\":\"\(UUID())\",\"user\":\"a\",\"uid\":1,\"extra\":true}",
                        "{\"action\":\"read\",\"action\":\"read\",\"envelope\":\"\(UUID())\",\"user\":\"a\",\"uid\":1}",
                        "{\"action\":\"submit\",\"envelope\":\"\(UUID())\",\"user\":\"a\",\"uid\":1,\"encryptedSummary\":\"not base64!\"}",
                        "{\"action\":\"submit\",\"envelope\":\"\(UUID())\",\"user\":\"a\",\"uid\":1,\"encryptedSummary\":17}",
                        "{\"action\":\"submit\",\"envelope\":\"\(UUID())\",\"user\":\"a\",\"uid\":1,\"sealedSummary\":null}"] {
            XCTAssertNil(OperatorAction(json: Array(garbage.utf8)), garbage)
        }
    }

    /// A submission's summary opens from what this node writes now (under its derived key,
    /// bound to the envelope) and from what older nodes wrote (a sealed box to its X25519
    /// key); another node's key, or a summary moved to another envelope's entry, opens nothing.
    func testOutboxSummaryOpensInBothFormsAndOnlyForItsEnvelope() throws {
        let actor = LocalUser(user: "alice", uid: 1001, role: .operator)
        let privateKey = EncryptionPrivateKey.generate(), key = privateKey.selfSealingKey(for: .outboxSummary)
        let summary = OutboxSummary(category: .terrorism, priority: .flash, subject: "Planned attack on the pipeline")
        let id = UUID()
        let current = OperatorAction(action: .submit, envelope: id, actor: actor,
                                     encryptedSummary: Data(key.seal(summary.json, associatedData: OutboxSummary.associatedData(for: id))))
        let legacy = OperatorAction(action: .submit, envelope: id, actor: actor, sealedSummary: Data(privateKey.publicKey.seal(summary.json)))
        for action in [current, legacy] {
            XCTAssertEqual(OperatorAction(json: action.encoded())?.summary(key: key, legacyKey: privateKey), summary)
        }
        let other = EncryptionPrivateKey.generate()
        XCTAssertNil(current.summary(key: other.selfSealingKey(for: .outboxSummary), legacyKey: other))
        XCTAssertNil(legacy.summary(key: other.selfSealingKey(for: .outboxSummary), legacyKey: other))
        var moved = current
        moved.envelope = UUID()
        XCTAssertNil(moved.summary(key: key, legacyKey: privateKey), "bound to the envelope it summarizes")
        XCTAssertNil(OperatorAction(action: .submit, envelope: id, actor: actor).summary(key: key, legacyKey: privateKey))
    }
}
