import Foundation
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// What an operator sees of the wire — `sent`, the attempts, the next try — is the link's
/// (the ledger holds only what the log says), shown through the local API as before: real
/// nodes, with a fault proxy between them that swallows and then resets the connection.
final class WireProgressTests: XCTestCase {
    func testTheOutboxShowsSentOnTheWireThenQueuedWithTheLinksNextTryAfterALoss() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        defer { cluster.stopAll() }
        // A fixed 2 s backoff: long enough to be seen backing off, short enough to heal.
        let proxy = try cluster.faultProxy(from: "AZ", to: "GE", limits: ["retryInitialSeconds": 2.0, "retryMaxSeconds": 2.0, "queueDepth": 1000])
        defer { proxy.send("quit") }
        try cluster.startAll()
        let az = cluster.client("AZ")
        try await eventually("AZ connected to GE through the proxy") { try await az.peers().first?.state == .connected }

        // The session is up; from now on what AZ writes vanishes and nothing comes back.
        XCTAssertTrue(try proxy.command("blackhole").hasPrefix("ok blackhole"))
        let id = try await az.submit(NodeCluster.draft(to: ["GE"], subject: "On the wire")).id
        try await eventually("sent once, no receipt") {
            let delivery = try await az.delivery(of: id).recipients.first
            return delivery?.state == .sent && delivery?.attempts == 1 && delivery?.nextAttempt == nil
        }

        // Reset: what was on the wire is queued again, showing when the link tries next.
        XCTAssertTrue(try proxy.command("drop").hasPrefix("ok drop"))
        try await eventually("queued again, with the link's next try") {
            guard let delivery = try await az.delivery(of: id).recipients.first, delivery.state == .queued, delivery.attempts == 1,
                  let next = delivery.nextAttempt, let link = try await az.peers().first else { return false }
            return link.state == .backingOff && link.nextAttempt == next
        }

        XCTAssertTrue(try proxy.command("pass").hasPrefix("ok pass"))
        try await eventually("delivered once the proxy passes again", timeout: 30) {
            try await az.delivery(of: id).recipients.first?.state == .delivered
        }
        let inbox = try await cluster.client("GE").inbox()
        XCTAssertEqual(inbox.map(\.id), [id], "resent after the loss, received once")
    }
}
