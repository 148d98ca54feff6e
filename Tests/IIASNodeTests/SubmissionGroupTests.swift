@testable import IIASAPI
@testable import IIASNode
import XCTest

/// How many waiting submit requests the next group takes (`Node.groupLength`).
final class SubmissionGroupTests: XCTestCase {
    let limit = Node.maximumGroup

    func testTakesEveryRequestThatFits() {
        XCTAssertEqual(Node.groupLength([1, 1, 1]), 3)
        XCTAssertEqual(Node.groupLength(Array(repeating: 1, count: limit)), limit)
        XCTAssertEqual(Node.groupLength([limit - 10, 10]), 2, "exactly the limit fits")
    }

    func testStopsBeforeTheRequestThatWouldPassTheLimit() {
        XCTAssertEqual(Node.groupLength(Array(repeating: 1, count: limit + 1)), limit)
        XCTAssertEqual(Node.groupLength([limit - 10, 11, 1]), 1, "order is kept: a later small request does not jump ahead")
        let batches = Array(repeating: Node.maximumBatch, count: 10)
        XCTAssertEqual(Node.groupLength(batches), limit / Node.maximumBatch)
    }

    func testAlwaysTakesAtLeastOneAndNothingFromNothing() {
        XCTAssertEqual(Node.groupLength([limit + 5]), 1, "a request larger than a group still goes, alone")
        XCTAssertEqual(Node.groupLength([Int]()), 0)
    }
}
