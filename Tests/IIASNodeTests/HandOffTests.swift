@testable import IIASAPI
@testable import IIASNode
import XCTest

/// The hand-off list behind a link's queue and an event stream's writes: one drain per
/// batch, nothing lost, each producer's order kept.
final class HandOffTests: XCTestCase {
    func testTheFirstAddAfterATakeAsksForADrainAndTakeEmptiesInOrder() {
        let handOff = HandOff<Int>()
        XCTAssertEqual(handOff.take(), [])
        XCTAssertTrue(handOff.add([1, 2]))
        XCTAssertFalse(handOff.add([3]))
        XCTAssertFalse(handOff.add([]))
        XCTAssertEqual(handOff.take(), [1, 2, 3])
        XCTAssertEqual(handOff.take(), [])
        XCTAssertTrue(handOff.add([4]))
        XCTAssertEqual(handOff.take(), [4])
    }

    func testConcurrentProducersLoseNothingAndKeepTheirOwnOrder() {
        let handOff = HandOff<(producer: Int, n: Int)>()
        let drains = HandOff<Int>()   // counts the drains the producers were asked for
        DispatchQueue.concurrentPerform(iterations: 8) { producer in
            for n in 0..<2_000 where handOff.add([(producer, n)]) { _ = drains.add([1]) }
        }
        let items = handOff.take()
        XCTAssertEqual(items.count, 16_000)
        for producer in 0..<8 {
            XCTAssertEqual(items.filter { $0.producer == producer }.map(\.n), Array(0..<2_000), "producer \(producer)")
        }
        XCTAssertEqual(drains.take().count, 1, "nothing was taken in between, so only the very first add asked for a drain")
    }
}
