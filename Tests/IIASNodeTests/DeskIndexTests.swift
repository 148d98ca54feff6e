import Foundation
import IIASAPI
import IIASCrypto
import IIASModel
@testable import IIASNode
import XCTest

/// The saved desk index: it opens only under the node's key, for the log it was taken
/// over, unaltered — and then says what it said before it was saved; nothing in the file
/// reads in the clear.
final class DeskIndexTests: XCTestCase {
    private let az = CenterID(rawValue: "AZ")!, ge = CenterID(rawValue: "GE")!
    private let root = [UInt8](repeating: 0x5A, count: 32)
    private let key = EncryptionPrivateKey.generate().selfSealingKey(for: .deskIndex)

    /// GE's request to AZ, answered by AZ's reply; the index as AZ would hold it.
    private func sample() -> (DeskIndex, request: UUID, reply: UUID) {
        let request = UUID(), reply = UUID(), t = Date(timeIntervalSince1970: 1_800_000_000)
        var desk = DeskIndex()
        let incoming = Ledger.Incoming(index: 3, id: request, sender: ge, received: t, isAcknowledgement: false, read: false)
        desk.add(incoming: incoming, .init(kind: .request, category: .terrorism, priority: .urgent, subject: "Grey van, owner wanted",
                                          inReplyTo: nil, references: [], tlp: .amber, responseDeadline: t + 86_400, created: t))
        let outgoing = Ledger.Outgoing(index: 5, id: reply, isAcknowledgement: false, created: t + 60, delivery: Deliveries([]))
        desk.add(outgoing: outgoing, OutboxSummary(category: .terrorism, priority: .urgent, subject: "Re: grey van", kind: .reply,
                                                   references: [request], inReplyTo: request), center: az)
        return (desk, request, reply)
    }

    func testASavedIndexOpensAsItWasAndHoldsNoSubjectInTheClear() throws {
        let (desk, request, reply) = sample()
        let sealed = try desk.sealed(folded: 9, root: root, key: key)
        XCTAssertEqual(DeskIndex.folded(ofSealed: sealed), 9)
        XCTAssertNil(sealed.firstRange(of: Array("Grey van".utf8)), "subjects are sealed")
        let opened = try XCTUnwrap(DeskIndex.opened(sealed, folded: 9, root: root, key: key))
        XCTAssertEqual(opened.incomingSeen, 1)
        XCTAssertEqual(opened.outgoingSeen, 1)
        XCTAssertEqual(opened.threads.mark(of: .init(sender: ge, id: request), center: az)?.id, reply, "the reply marks the request")
        XCTAssertEqual(opened.requests.received.map(\.id), [request])
        XCTAssertEqual(opened.requests.received.first?.subject, "Grey van, owner wanted")
        XCTAssertEqual(opened.requests.ourReplies[request], [])
    }

    func testAnotherLogKeyOrSizeAndEveryAlterationAreRefused() throws {
        let (desk, _, _) = sample()
        let sealed = try desk.sealed(folded: 9, root: root, key: key)
        var otherRoot = root
        otherRoot[0] ^= 1
        XCTAssertNil(DeskIndex.opened(sealed, folded: 9, root: otherRoot, key: key), "another log")
        XCTAssertNil(DeskIndex.opened(sealed, folded: 10, root: root, key: key), "another size of the log")
        XCTAssertNil(DeskIndex.opened(sealed, folded: 9, root: root, key: EncryptionPrivateKey.generate().selfSealingKey(for: .deskIndex)),
                     "another node's key (or ours after a rotation)")
        XCTAssertNil(DeskIndex.opened(sealed, folded: 9, root: root, key: EncryptionPrivateKey.generate().selfSealingKey(for: .outboxSummary)))
        for position in stride(from: 0, to: sealed.count, by: max(1, sealed.count / 97)) {
            var altered = sealed
            altered[position] ^= 0x01
            let folded = DeskIndex.folded(ofSealed: altered) ?? 0
            XCTAssertNil(DeskIndex.opened(altered, folded: folded, root: root, key: key), "byte \(position) flipped")
        }
        for length in [0, 7, 8, 20, sealed.count - 1] {
            XCTAssertNil(DeskIndex.opened(Array(sealed.prefix(length)), folded: 9, root: root, key: key), "cut to \(length) bytes")
        }
        XCTAssertNil(DeskIndex.folded(ofSealed: [1, 2, 3]))
        XCTAssertNil(DeskIndex.opened(Array(repeating: 0xFF, count: 4096), folded: 9, root: root, key: key), "garbage")
    }
}
