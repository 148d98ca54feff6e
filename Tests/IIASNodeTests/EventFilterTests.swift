import Foundation
import IIASModel
@testable import IIASAPI
@testable import IIASNode
import XCTest

/// The event stream's filter: what it admits, and what it refuses to read.
final class EventFilterTests: XCTestCase {
    private let id = UUID()
    private func delivery(_ state: DeliveryState) -> NodeEvent {
        .delivery(id: id, recipient: RecipientDelivery(center: CenterID("GE")!, state: state))
    }
    private let peer = NodeEvent.peer(PeerStatus(center: CenterID("GE")!, address: "127.0.0.1:1", state: .connected, queued: 0))

    func testAnEmptyFilterAdmitsEverything() {
        let all = EventFilter()
        XCTAssertTrue(DeliveryState.allCases.allSatisfy { all.admits(delivery($0)) })
        XCTAssertTrue(all.admits(peer))
        XCTAssertEqual(all.query, "")
    }

    func testStatesSelectDeliveriesAndKindsSelectTypes() {
        let outcomes = EventFilter(states: [.delivered, .refused])
        XCTAssertEqual(DeliveryState.allCases.filter { outcomes.admits(delivery($0)) }, [.delivered, .refused])
        XCTAssertTrue(outcomes.admits(peer), "states say nothing of other kinds")
        let links = EventFilter(kinds: [.peer], states: [.delivered])
        XCTAssertTrue(links.admits(peer))
        XCTAssertFalse(links.admits(delivery(.delivered)), "a kind left out is left out whatever its state")
    }

    func testTheQueryReadsBackAsTheSameFilter() throws {
        for filter in [EventFilter(), EventFilter(kinds: [.received]), EventFilter(states: [.refused, .delivered]),
                       EventFilter(kinds: Set(NodeEvent.Kind.allCases), states: Set(DeliveryState.allCases))] {
            let (_, query) = APIRouter.split("/v1/events" + filter.query)
            XCTAssertEqual(try EventFilter(query: query), filter, filter.query)
        }
    }

    func testUnknownKeysKindsStatesAndEmptyItemsAreRefusedWithWhatIsAllowed() {
        let cases: [([String: String], String, String)] = [
            (["colour": "red"], "colour", "state"), (["type": "gossip"], "gossip", "peer"), (["state": "lost"], "lost", "refused"),
            (["state": ""], "state", "queued"), (["state": "delivered,"], "state", "queued"), (["type": "RECEIVED"], "RECEIVED", "received"),
            (["state": String(repeating: "x", count: 10_000)], "state", "sent"),
        ]
        for (query, named, allowed) in cases {
            XCTAssertThrowsError(try EventFilter(query: query), "\(query)") { error in
                guard let problem = error as? EventFilter.FilterProblem else { return XCTFail("\(error)") }
                XCTAssertTrue(problem.description.contains(named.prefix(40)), problem.description)
                XCTAssertLessThan(problem.description.count, 100, "the value is cut short in the message")
                XCTAssertTrue(problem.allowed.contains(allowed), "\(problem.allowed)")
            }
        }
    }
}
