import Foundation
import IIASAPI
import IIASModel
@testable import IIASNode
import XCTest

/// Which notification a link names when ids are unique per sender only, and which state a
/// thread shows for one: a cancellation wins whenever it came, else the newest update or reply.
final class ThreadIndexTests: XCTestCase {
    private let az = CenterID(rawValue: "AZ")!, ge = CenterID(rawValue: "GE")!, ua = CenterID(rawValue: "UA")!
    private func key(_ sender: CenterID, _ id: UUID) -> ThreadIndex.Key { .init(sender: sender, id: id) }

    func testACancellationWinsOverALaterUpdateAndTheNewestOtherwise() {
        let request = UUID(), reply = UUID(), update = UUID(), cancel = UUID(), later = UUID()
        var index = ThreadIndex()
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        index.add(key(ge, reply), kind: .reply, created: t + 10, references: [request], inReplyTo: request)
        XCTAssertEqual(index.mark(of: key(az, request), center: az)?.state, .replied)
        index.add(key(az, update), kind: .update, created: t + 20, references: [request], inReplyTo: nil)
        XCTAssertEqual(index.mark(of: key(az, request), center: az), ThreadMark(state: .updated, by: az, id: update, at: t + 20))
        index.add(key(az, cancel), kind: .cancellation, created: t + 30, references: [request], inReplyTo: nil)
        index.add(key(az, later), kind: .update, created: t + 40, references: [request], inReplyTo: nil)
        XCTAssertEqual(index.mark(of: key(az, request), center: az), ThreadMark(state: .cancelled, by: az, id: cancel, at: t + 30))
        XCTAssertNil(index.mark(of: key(az, update), center: az), "nothing names the update")
        XCTAssertEqual(index.followUps[key(ge, reply)]?.names, [request], "references and inReplyTo without repeats")
    }

    func testALinkNamesTheNotificationItsSenderSentOrExchangedWithUsNotAThirdCentersWithTheSameID() {
        let shared = UUID(), update = UUID()
        var index = ThreadIndex()
        // At UA: AZ updates its own notification `shared`; GE happened to use the same id.
        index.add(key(az, update), kind: .update, created: Date(), references: [shared], inReplyTo: nil)
        XCTAssertEqual(index.followUps(of: key(az, shared), center: ua).map(\.key), [key(az, update)])
        XCTAssertEqual(index.followUps(of: key(ge, shared), center: ua).map(\.key), [], "GE's notification is not AZ's")
        XCTAssertEqual(index.followUps(of: key(ua, shared), center: ua).map(\.key), [key(az, update)], "ours, sent to AZ")
        XCTAssertTrue(ThreadIndex.names(key(ua, update), key(ge, shared), center: ua), "we answer what we received")
    }
}
