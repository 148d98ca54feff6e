import Foundation
import IIASAPI
import IIASNode
import IIASTestSupport

/// How soon a peer that comes back gets what waited for it.
struct Reconnect: Codable {
    var restarts: Int
    /// The sender's backoff while the peer was down (initial = maximum).
    var backoffSeconds: Double
    var p50Milliseconds: Double
    var maxMilliseconds: Double
}

/// GE stopped, one notification queued for it at AZ while AZ's link waits out a backoff
/// at its maximum (60 s), GE started: the time from GE's "ready" (its listeners up, its
/// own link to AZ about to dial) to AZ's logged receipt, over `restarts` restarts. Without
/// the prompt resend each sample would be the rest of AZ's backoff, 30–60 s.
func reconnect(restarts: Int, pki: PKILayout, iias: String) async throws -> Reconnect {
    let backoff = 60.0
    let limits: [String: Any] = ["retryInitialSeconds": backoff, "retryMaxSeconds": backoff, "queueDepth": 1_000_000]
    let cluster = try LocalCluster(["AZ", "GE"], pki: pki, executable: iias, extra: ["limits": limits])
    try cluster.startAll(logLevel: "warning")
    defer { cluster.stopAll() }
    let client = LocalAPIClient(socketPath: cluster.socketPath("AZ"))
    var samples: [Double] = []
    for i in 0..<restarts {
        cluster.stop("GE")
        let id = try await submit(to: ["GE"], number: i, client: client)
        try await until(30, "AZ's link to GE backing off") {
            try await client.peers().first { $0.center.rawValue == "GE" }?.state == .backingOff
        }
        let waiting = Backlog()
        await waiting.add(id)
        let listener = try await followDeliveries(client) { id, _ in await waiting.deliveredOne(id) }
        try cluster.start("GE", logLevel: "warning")
        let start = DispatchTime.now().uptimeNanoseconds
        try await until(backoff + 5, "GE's receipt at AZ") { await waiting.delivered == 1 }
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        listener.cancel()
    }
    samples.sort()
    return Reconnect(restarts: restarts, backoffSeconds: backoff, p50Milliseconds: samples[samples.count / 2],
                     maxMilliseconds: samples.last ?? 0)
}

/// Polls `condition` every millisecond until it holds; throws after `seconds`.
private func until(_ seconds: Double, _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    throw TestFailure("reconnect: not within \(Int(seconds)) s: \(what)")
}
