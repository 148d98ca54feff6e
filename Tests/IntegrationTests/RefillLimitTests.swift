import Foundation
import IIASTestSupport
import IIASTransport
import XCTest

/// A peer cannot make a node resend everything over and over: AZ serves a refill once, the
/// same request again within ten minutes is logged and passed over, one from an earlier
/// index is served — with real nodes and a hand-played GE connection asking.
final class RefillLimitTests: XCTestCase {
    func testTheSameRefillAgainIsNotServedTwice() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.startAll()
        defer { cluster.stopAll() }
        try await cluster.sendAndAwaitReceipts(to: "GE", from: ["AZ"], count: 3, tag: "receipted")
        let (channel, _) = try await TestPeer.connect(as: "GE", port: cluster.ports["AZ"]!, expecting: "AZ")
        defer { channel.close(promise: nil) }
        func served() -> Int { cluster.errorOutput("AZ").components(separatedBy: "asks for what it had logged; resending").count - 1 }
        func passedOver() -> Int { cluster.errorOutput("AZ").components(separatedBy: "asks again for a refill it was served").count - 1 }

        try await channel.writeAndFlush(Frame.history(.logState, Array("refill 2\n".utf8))).get()
        try await eventually("AZ served the refill") { served() == 1 }
        for size in [2, 5] { try await channel.writeAndFlush(Frame.history(.logState, Array("refill \(size)\n".utf8))).get() }
        try await eventually("AZ passed over the same refill and a later one") { passedOver() == 2 }
        XCTAssertEqual(served(), 1)
        try await channel.writeAndFlush(Frame.history(.logState, Array("refill 0\n".utf8))).get()
        try await eventually("AZ served a refill from an earlier index") { served() == 2 }
        XCTAssertTrue(cluster.isRunning("AZ"))
        let inbox = try await cluster.client("GE").inbox()
        XCTAssertEqual(inbox.count, 3, "the resent notifications are not logged twice at GE")
    }
}
