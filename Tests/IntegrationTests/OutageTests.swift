import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Outages longer than every time bound, with real processes: what was queued for a
/// recipient that was down arrives once it is back, each notification exactly once with
/// its receipt, and it arrives when the link comes up, not when the sender's backoff
/// timer happens to fire.
final class OutageTests: XCTestCase {
    /// Limits for an outage test: a skew bound of 2 s (an outage of a few seconds is
    /// "longer than the bound") and a backoff that starts at its maximum of two minutes,
    /// so a delivery within the test's deadline can only come from the prompt resend.
    private static var limits: [String: Any] { [
        "retryInitialSeconds": 120.0, "retryMaxSeconds": 120.0, "queueDepth": 1_000_000, "clockSkewSeconds": 2,
    ] }

    func testARecipientDownLongerThanTheSkewBoundGetsEverythingOnceAsSoonAsItIsBack() async throws {
        let cluster = try NodeCluster(["AZ", "MD"], extra: ["limits": Self.limits])
        try cluster.start("AZ")
        let az = cluster.client("AZ")
        var sent: [UUID] = []
        for n in 0..<5 {
            sent.append(try await az.submit(NodeCluster.draft(to: ["MD"], subject: "Queued during the outage \(n)", priority: n == 0 ? "flash" : "routine")).id)
        }
        // AZ's link to MD has failed once and waits out the whole backoff (60–120 s).
        try await eventually("AZ backing off from MD") {
            guard let md = try await az.peers().first(where: { $0.center.rawValue == "MD" }), md.state == .backingOff,
                  let next = md.nextAttempt else { return false }
            return next.timeIntervalSinceNow > 50
        }
        let peers = try await az.peers()
        let lastError = try XCTUnwrap(peers.first?.lastError)
        XCTAssertTrue(lastError.contains("connection refused"), "a readable error, not NIO's dump: \(lastError)")
        XCTAssertFalse(lastError.contains("NIOConnectionError"), lastError)
        // Longer than the skew bound: every envelope's `created` is now older than it.
        let oldest = try await az.delivery(of: sent[0]).created
        try await eventually("the envelopes older than the 2 s bound", timeout: 10) { Date().timeIntervalSince(oldest) > 3 }

        try cluster.start("MD")
        let up = Date()
        try await eventually("every queued notification delivered, long before AZ's timer", timeout: 30) {
            for id in sent where try await az.delivery(of: id).recipients.first?.state != .delivered { return false }
            return true
        }
        print("outage: MD ready to the last receipt at AZ in \(Int(Date().timeIntervalSince(up) * 1000)) ms (AZ's backoff ≥ 60 s)")
        let inbox = try await cluster.client("MD").inbox()
        XCTAssertEqual(inbox.map(\.id).sorted { $0.uuidString < $1.uuidString }, sent.sorted { $0.uuidString < $1.uuidString },
                       "each notification once in MD's inbox")
        let status = try await cluster.client("MD").status()
        XCTAssertEqual(status.logEntries, UInt64(sent.count) + 1, "MD logged each envelope once and the inbox listing, nothing else")
        cluster.stopAll()
        for center in ["AZ", "MD"] {
            let verify = try ProcessRunner.run(RepositoryPaths.iiasExecutable,
                                               ["log", "verify", cluster.logDirectory(center), "--certs", TestPKI.shared.layout.centersDirectory,
                                                "--ca", TestPKI.shared.caFile, "--crl", TestPKI.shared.crlFile], timeout: 120)
            XCTAssertEqual(verify.status, 0, "\(center): \(verify.stdout)\(verify.stderr)")
        }
    }
}
