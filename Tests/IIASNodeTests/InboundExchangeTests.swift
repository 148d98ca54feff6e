import Foundation
import IIASCrypto
import IIASModel
@testable import IIASNode
import XCTest

/// The receiving side's decisions (`InboundExchange`): what an envelope from a peer is
/// answered with and what a receipt for ours does, decided on values alone.
final class InboundExchangeTests: XCTestCase {
    private let peer = CenterID("GE")!
    private let ids = (0..<4).map { _ in UUID() }
    private let bytesA: [UInt8] = Array(repeating: 0xA, count: 32), bytesB: [UInt8] = Array(repeating: 0xB, count: 32)

    private func arrival(_ i: Int, _ sha256: [UInt8], _ check: InboundExchange.Check = .accepted(acknowledgesOurs: nil)) -> InboundExchange.Arrival {
        .init(id: ids[i], sha256: sha256, check: check)
    }

    func testNewEnvelopesAreLogged() {
        let decisions = InboundExchange.decide([arrival(0, bytesA), arrival(1, bytesB)], from: peer) { _ in nil }
        XCTAssertEqual(decisions, [.log, .log])
    }

    /// Same bytes again (a resend after a lost receipt): the receipt of the first time, so
    /// the same signed outcome, however often it comes.
    func testADuplicateIsAnsweredAsTheFirstTime() {
        let logged = InboundExchange.Logged(index: 41, time: Date(timeIntervalSince1970: 1_764_000_000), sha256: bytesA)
        let lookup: (UUID) -> InboundExchange.Logged? = { [ids] id in id == ids[0] ? logged : nil }
        let first = InboundExchange.decide([arrival(0, bytesA)], from: peer, logged: lookup)
        let again = InboundExchange.decide([arrival(0, bytesA), arrival(0, bytesA)], from: peer, logged: lookup)
        XCTAssertEqual(first, [.answerAsLogged(logged)])
        XCTAssertEqual(again, [.answerAsLogged(logged), .answerAsLogged(logged)])
    }

    /// Bytes logged before are answered with that receipt even when today's checks refuse
    /// them (a revoked certificate, a rotated key): a recipient never signs two outcomes.
    func testBytesLoggedBeforeKeepTheirReceiptWhateverTheChecksSayToday() {
        let logged = InboundExchange.Logged(index: 7, time: Date(timeIntervalSince1970: 0), sha256: bytesA)
        let decisions = InboundExchange.decide([arrival(0, bytesA, .refused(.untrustedSender, "revoked")),
                                                arrival(0, bytesB, .refused(.untrustedSender, "revoked"))], from: peer) { _ in logged }
        XCTAssertEqual(decisions, [.answerAsLogged(logged), .refuse(.untrustedSender, "revoked")])
    }

    /// A replay: the peer's id again with other bytes, against the log or within the batch.
    func testAnIdReusedForOtherBytesIsRefused() {
        let logged = InboundExchange.Logged(index: 3, time: Date(timeIntervalSince1970: 0), sha256: bytesA)
        let decisions = InboundExchange.decide([arrival(0, bytesB), arrival(1, bytesA), arrival(1, bytesA), arrival(1, bytesB)], from: peer) { [ids] id in
            id == ids[0] ? logged : nil
        }
        XCTAssertEqual(decisions.count, 4)
        guard case .refuse(.invalid, let detail) = decisions[0] else { return XCTFail("\(decisions[0])") }
        XCTAssertTrue(detail.contains("already used this envelope id"), detail)
        XCTAssertEqual(decisions[1], .log)
        XCTAssertEqual(decisions[2], .sameAs(1), "the same bytes twice in a batch: logged once, answered alike")
        guard case .refuse(.invalid, _) = decisions[3] else { return XCTFail("\(decisions[3])") }
    }

    func testRefusalsAndAcknowledgementsOfNothingOfOurs() {
        let anything: (UUID) -> InboundExchange.Logged? = { _ in .init(index: 1, time: Date(), sha256: [0]) }
        let decisions = InboundExchange.decide([arrival(0, bytesA, .refusedOutright(.senderMismatch, "names UA")),
                                                arrival(1, bytesA, .refused(.clockSkew, "ahead")),
                                                arrival(2, bytesA, .accepted(acknowledgesOurs: false)),
                                                arrival(3, bytesA, .accepted(acknowledgesOurs: true))], from: peer) { [ids] id in
            id == ids[0] ? anything(id) : nil
        }
        XCTAssertEqual(decisions[0], .refuse(.senderMismatch, "names UA"), "refused outright whatever the log holds")
        XCTAssertEqual(decisions[1], .refuse(.clockSkew, "ahead"))
        XCTAssertEqual(decisions[2], .refuse(.invalid, "acknowledges no notification of ours to GE"))
        XCTAssertEqual(decisions[3], .log)
    }

    // MARK: Receipts for our envelopes

    private func line(_ i: Int?, _ sha256: [UInt8], refuses: Bool = false) -> InboundExchange.ReceiptLine {
        .init(id: i.map { ids[$0] }, sha256: sha256, refuses: refuses)
    }

    func testReceiptsSettleWaitingEnvelopesOnceAndIgnoreUnknownIds() {
        let standing: (UUID) -> InboundExchange.Standing? = { [ids, bytesA] id in
            switch id {
            case ids[0], ids[1]: .waiting(sha256: bytesA)
            case ids[2]: .answered
            default: nil
            }
        }
        let outcome = InboundExchange.sortReceipts([[line(0, bytesA)], [line(3, bytesA)], [line(2, bytesA), line(0, bytesA)],
                                                    [line(1, bytesB, refuses: true), line(nil, bytesB, refuses: true)]], standing: standing)
        XCTAssertEqual(outcome.log, [0, 3], "a receipt answering nothing new is not logged")
        XCTAssertEqual(outcome.answers.map(\.id), [ids[0], ids[1]])
        XCTAssertEqual(outcome.answers.map(\.envelope), [0, 3])
        XCTAssertEqual(outcome.alreadyAnswered, [ids[2], ids[0]], "answered before or earlier in the batch: settled, not logged")
        XCTAssertEqual(outcome.unknown, [ids[3]])
        XCTAssertTrue(outcome.distrusted.isEmpty)
    }

    /// A delivery receipt naming other bytes than we logged (or bytes we cannot read back)
    /// is not logged at all, not even its other lines; a refusal need not name our digest.
    func testADeliveryReceiptForOtherBytesIsNotTrusted() {
        let standing: (UUID) -> InboundExchange.Standing? = { [ids, bytesA] id in id == ids[1] ? .waiting(sha256: nil) : .waiting(sha256: bytesA) }
        let outcome = InboundExchange.sortReceipts([[line(0, bytesA), line(2, bytesB)], [line(1, bytesA)], [line(3, bytesB, refuses: true)]],
                                                   standing: standing)
        XCTAssertEqual(outcome.distrusted, [0, 1])
        XCTAssertEqual(outcome.log, [2])
        XCTAssertEqual(outcome.answers.map(\.id), [ids[3]])
    }

    /// A refilled recipient's receipt naming another log index for an envelope delivered
    /// before is logged (and settles nothing new); the same index again, a refusal, or other
    /// bytes are not.
    func testAReceiptNamingANewIndexAfterARefillIsLoggedOnce() {
        let standing: (UUID) -> InboundExchange.Standing? = { [ids, bytesA] id in
            switch id {
            case ids[0], ids[1], ids[2]: .delivered(sha256: bytesA, recipientLogIndex: 6)
            default: .waiting(sha256: bytesA)
            }
        }
        func indexed(_ i: Int, _ sha256: [UInt8], _ index: UInt64?, refuses: Bool = false) -> InboundExchange.ReceiptLine {
            .init(id: ids[i], sha256: sha256, refuses: refuses, logIndex: index)
        }
        let outcome = InboundExchange.sortReceipts([[indexed(0, bytesA, 33)], [indexed(1, bytesA, 6)], [indexed(1, bytesA, 34, refuses: true)],
                                                    [indexed(2, bytesB, 35)], [indexed(0, bytesA, 36)], [indexed(3, bytesA, 40)]], standing: standing)
        XCTAssertEqual(outcome.reindexed, [ids[0]], "once, for the new index only")
        XCTAssertEqual(outcome.log, [0, 5], "the re-receipt and the first answer of a waiting envelope")
        XCTAssertEqual(outcome.answers.map(\.id), [ids[3]])
        XCTAssertTrue(outcome.distrusted.isEmpty, "other bytes than we sent for an answered envelope: not logged, nothing settled")
        XCTAssertTrue(outcome.alreadyAnswered.contains(ids[0]) && outcome.alreadyAnswered.contains(ids[1]))
    }
}
