import Foundation
@testable import IIASNode
import XCTest

/// The sending side's decisions (`OutboundExchange`): values in, values out; no socket,
/// no log, no clock.
final class OutboundExchangeTests: XCTestCase {
    private let start = Date(timeIntervalSince1970: 1_764_000_000)
    private let ids = (0..<6).map { _ in UUID() }

    /// Bytes "read from the log" for envelope index i: [i].
    private func log(_ index: UInt64) -> [UInt8]? { index < 100 ? [UInt8(index)] : nil }

    private func envelope(_ i: Int, bytes: [UInt8]? = nil) -> OutboundExchange.Envelope {
        .init(id: ids[i], index: UInt64(i), bytes: bytes)
    }

    /// An exchange whose link has a session up.
    private func connected(window: Int) -> OutboundExchange {
        var exchange = OutboundExchange(window: window)
        exchange.established()
        return exchange
    }

    private let noJitter = OutboundExchange.Backoff(initial: 1, maximum: 8, jitter: 1)

    /// The connection drops and a new session comes up at once.
    private func reconnect(_ exchange: inout OutboundExchange) -> [UUID] {
        let (requeued, _) = exchange.connectionLost(established: true, now: start, backoff: noJitter)
        exchange.connecting()
        exchange.established()
        return requeued
    }

    func testSendsInLogOrderWithinTheWindowHandedOverBytesFirst() {
        var exchange = connected(window: 2)
        exchange.enqueue([envelope(0, bytes: [0xAA]), envelope(1), envelope(2)])
        let first = exchange.takeForSending(now: start, load: log)
        XCTAssertEqual(first.map(\.id), [ids[0], ids[1]])
        XCTAssertEqual(first.map(\.bytes), [[0xAA], [1]], "handed-over bytes as they are, the rest read by index")
        XCTAssertTrue(exchange.takeForSending(now: start, load: log).isEmpty, "the window is full")
        XCTAssertEqual(exchange.queued, 3)
        XCTAssertEqual(exchange.progress(of: ids[0]), .init(onTheWire: true, attempts: 1, lastSent: start))
        XCTAssertEqual(exchange.progress(of: ids[2]), .init(onTheWire: false, attempts: 0, lastSent: nil))
    }

    func testSettleFreesTheWindowAndStopsTheEnvelopeForGood() {
        var exchange = connected(window: 1)
        exchange.enqueue([envelope(0), envelope(1)])
        XCTAssertEqual(exchange.takeForSending(now: start, load: log).map(\.id), [ids[0]])
        exchange.settle([ids[0]])
        XCTAssertNil(exchange.progress(of: ids[0]))
        XCTAssertEqual(exchange.takeForSending(now: start, load: log).map(\.id), [ids[1]])
        // Answered while queued after a loss: never written again.
        _ = reconnect(&exchange)
        exchange.settle([ids[1]])
        XCTAssertTrue(exchange.takeForSending(now: start, load: log).isEmpty)
        XCTAssertEqual(exchange.queued, 0)
    }

    func testEnqueuingAWaitingEnvelopeAgainDoesNotSendItTwice() {
        var exchange = connected(window: 8)
        exchange.enqueue([envelope(0), envelope(1)])
        exchange.enqueue([envelope(1), envelope(0, bytes: [9])])
        XCTAssertEqual(exchange.takeForSending(now: start, load: log).map(\.id), [ids[0], ids[1]])
        XCTAssertEqual(exchange.queued, 2)
    }

    func testReceiptsForUnknownIdsChangeNothing() {
        var exchange = connected(window: 2)
        exchange.enqueue([envelope(0)])
        _ = exchange.takeForSending(now: start, load: log)
        exchange.settle([UUID(), UUID()])
        XCTAssertEqual(exchange.inFlight, [ids[0]])
        XCTAssertEqual(exchange.queued, 1)
    }

    /// What was on the wire goes back to the front in its order, before what was queued
    /// behind it, and counts a second attempt when written again.
    func testALostConnectionResendsWhatWasInFlightFirstInOrder() {
        var exchange = connected(window: 2)
        exchange.enqueue([envelope(0), envelope(1), envelope(2)])
        _ = exchange.takeForSending(now: start, load: log)
        XCTAssertEqual(reconnect(&exchange), [ids[0], ids[1]])
        XCTAssertTrue(exchange.inFlight.isEmpty)
        XCTAssertEqual(exchange.progress(of: ids[0]), .init(onTheWire: false, attempts: 1, lastSent: start))
        let later = start.addingTimeInterval(5)
        XCTAssertEqual(exchange.takeForSending(now: later, load: log).map(\.id), [ids[0], ids[1]])
        XCTAssertEqual(exchange.progress(of: ids[1]), .init(onTheWire: true, attempts: 2, lastSent: later))
        exchange.settle([ids[0], ids[1]])
        XCTAssertEqual(exchange.takeForSending(now: later, load: log).map(\.id), [ids[2]])
    }

    /// A handed-over envelope lost on the wire is read back from the log when resent.
    func testAResendReadsTheBytesFromTheLogAndDropsWhatCannotBeRead() {
        var exchange = connected(window: 4)
        exchange.enqueue([envelope(0, bytes: [0xAA]), .init(id: ids[1], index: 500, bytes: nil)])
        XCTAssertEqual(exchange.takeForSending(now: start, load: log).map(\.bytes), [[0xAA]], "index 500 is not in the log")
        XCTAssertNil(exchange.progress(of: ids[1]))
        _ = reconnect(&exchange)
        XCTAssertEqual(exchange.takeForSending(now: start, load: log).map(\.bytes), [[0]])
    }

    /// Nothing leaves before a session is up, nor while the link backs off after a loss;
    /// the wait grows with failures in a row, is capped, and starts over after a session.
    func testNothingLeavesWithoutASessionAndTheBackoffGrowsUntilOne() {
        var exchange = OutboundExchange(window: 4)
        exchange.enqueue([envelope(0)])
        XCTAssertEqual(exchange.phase, .connecting)
        XCTAssertTrue(exchange.takeForSending(now: start, load: log).isEmpty, "no session yet")
        var waits: [Double] = []
        for _ in 0..<6 {
            let (requeued, wait) = exchange.connectionLost(established: false, now: start, backoff: noJitter)
            XCTAssertTrue(requeued.isEmpty)
            waits.append(wait)
            XCTAssertEqual(exchange.phase, .backingOff)
            XCTAssertEqual(exchange.nextAttempt, start.addingTimeInterval(wait))
            XCTAssertTrue(exchange.takeForSending(now: start, load: log).isEmpty, "backing off")
            exchange.connecting()
        }
        XCTAssertEqual(waits, [1, 2, 4, 8, 8, 8])
        XCTAssertNotNil(exchange.nextAttempt, "the next try stays shown while connecting again")
        XCTAssertEqual(OutboundExchange.Backoff(initial: 1, maximum: 8, jitter: 0).wait(afterFailures: 3), 2, "half fixed, half jitter")
        XCTAssertEqual(OutboundExchange.Backoff(initial: 1, maximum: 8, jitter: 7).wait(afterFailures: 3), 4, "jitter is clamped to 0...1")

        exchange.established()
        XCTAssertEqual(exchange.phase, .connected)
        XCTAssertNil(exchange.nextAttempt)
        XCTAssertEqual(exchange.failures, 0)
        XCTAssertEqual(exchange.takeForSending(now: start, load: log).map(\.id), [ids[0]])
        XCTAssertEqual(exchange.connectionLost(established: true, now: start, backoff: noJitter).wait, 1, "a drop after a session starts over")
    }

    func testAWindowBelowOneStillSendsOneAtATime() {
        var exchange = connected(window: 0)
        exchange.enqueue([envelope(0), envelope(1)])
        XCTAssertEqual(exchange.takeForSending(now: start, load: log).count, 1)
    }
}
