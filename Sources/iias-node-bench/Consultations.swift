import Foundation
import IIASModel
import IIASAPI
import IIASTestSupport

/// What logging every consultation costs the exchange: the bulk case (one recipient,
/// `inflight` in flight) run three times back to back — alone, while operators at the
/// recipient list their inbox `listingsPerSecond` times a second (a 50-item page, each a
/// signed `consult` entry in GE's log), alone again — so that a drift between runs does
/// not count as the listings' cost: the throughput lost is the price of the audit trail.
struct ConsultationCost: Codable {
    var listingsPerSecond: Double
    var listings: Int
    /// The mean of the runs before and after the listed one.
    var alonePerSecond: Double
    var listedPerSecond: Double
    /// 1 − listed/alone: the share of bulk throughput the logged listings cost (target ≤ 0.05).
    var cost: Double
}

/// Lists GE's inbox at `perSecond` until cancelled; the number of listings done.
private func operatorsListing(_ client: LocalAPIClient, perSecond: Double) -> Task<Int, any Error> {
    Task {
        let interval = 1 / perSecond, start = DispatchTime.now().uptimeNanoseconds
        var done = 0
        while !Task.isCancelled {
            _ = try await client.inbox(InboxFilter(limit: 50))
            done += 1
            let due = Double(done) * interval - Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if due > 0 { try? await Task.sleep(for: .milliseconds(Int(due * 1000))) }
        }
        return done
    }
}

func consultationCost(cluster: LocalCluster, count: Int, inflight: Int, listingsPerSecond: Double) async throws -> ConsultationCost {
    func bulk() async throws -> Double {
        try await LoopDriver.run(socketPath: cluster.socketPath("AZ"), recipients: ["GE"], count: count, inflight: inflight).perSecond
    }
    let before = try await bulk()
    let listing = operatorsListing(LocalAPIClient(socketPath: cluster.socketPath("GE")), perSecond: listingsPerSecond)
    let listed = try await bulk()
    listing.cancel()
    let listings = try await listing.value
    let alone = (before + (try await bulk())) / 2
    return ConsultationCost(listingsPerSecond: listingsPerSecond, listings: listings, alonePerSecond: alone,
                            listedPerSecond: listed, cost: 1 - listed / alone)
}
