@testable import IIASAPI
@testable import IIASNode
import Logging
import XCTest

/// The bounds on open connections a listener keeps (`ConnectionLimiter`).
final class ConnectionLimiterTests: XCTestCase {
    private func limiter(total: Int, perAddress: Int = .max) -> ConnectionLimiter {
        ConnectionLimiter(total: total, perAddress: perAddress, what: "test", metric: "test_connections", logger: Logger(label: "test"))
    }

    func testAdmitsUpToTheTotalAndAgainAfterARelease() {
        let connections = limiter(total: 3)
        XCTAssertEqual((0..<5).map { _ in connections.admit(nil) }, [true, true, true, false, false])
        XCTAssertEqual(connections.openCount, 3, "a refusal takes no place")
        connections.release(nil)
        XCTAssertTrue(connections.admit(nil))
        XCTAssertFalse(connections.admit(nil))
    }

    func testOneAddressCannotTakeEveryPlace() {
        let connections = limiter(total: 5, perAddress: 2)
        XCTAssertTrue(connections.admit("192.0.2.1"))
        XCTAssertTrue(connections.admit("192.0.2.1"))
        XCTAssertFalse(connections.admit("192.0.2.1"), "a third from the same address")
        XCTAssertTrue(connections.admit("192.0.2.2"), "another address still gets in")
        XCTAssertTrue(connections.admit("192.0.2.3"))
        XCTAssertTrue(connections.admit("192.0.2.3"))
        XCTAssertFalse(connections.admit("192.0.2.4"), "the total holds whatever the address")
        connections.release("192.0.2.1")
        XCTAssertTrue(connections.admit("192.0.2.1"), "a release frees that address's place")
        XCTAssertEqual(connections.openCount, 5)
    }

    func testPlacesAreKeptRightUnderConcurrency() async {
        let connections = limiter(total: 100, perAddress: 10)
        let admitted = await withTaskGroup(of: Int.self, returning: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var mine = 0
                    for round in 0..<1000 {
                        let address = "10.0.0.\((worker + round) % 20)"
                        if connections.admit(address) { mine += 1; connections.release(address) }
                    }
                    return mine
                }
            }
            return await group.reduce(0, +)
        }
        XCTAssertGreaterThan(admitted, 0)
        XCTAssertEqual(connections.openCount, 0, "every admitted place was given back")
        XCTAssertEqual((0..<10).map { _ in connections.admit("10.0.0.1") }.filter { $0 }.count, 10)
    }
}
