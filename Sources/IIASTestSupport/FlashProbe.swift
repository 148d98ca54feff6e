import Dispatch
import Foundation
import IIASAPI
import Synchronization

/// Times flash notifications one at a time, from just before the submission to the
/// `delivery` line of the sender's event stream (its recipient's receipt logged), as the
/// node bench times notifications: the wait an officer sees. Used to compare an idle link
/// with one that carries an attachment.
public final class FlashProbe: Sendable {
    private let client: LocalAPIClient
    /// Delivery receipts seen on the event stream: envelope id → uptime in nanoseconds.
    private let arrivals = Arrivals()
    private let follower: Task<Void, any Error>

    /// Subscribes to `client`'s node's events; returns once the node registered the
    /// subscription, so that no receipt is missed afterwards.
    public init(_ client: LocalAPIClient) async throws {
        self.client = client
        let events = try await client.events()
        let arrivals = self.arrivals
        follower = Task {
            for try await event in events where event.type == "delivery" {
                guard let id = event.id, event.recipient?.state == .delivered else { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                arrivals.times.withLock { seen in if seen[id] == nil { seen[id] = now } }
            }
        }
    }

    deinit { follower.cancel() }

    /// Sends `count` flash notifications to `recipient`, each once the previous one was
    /// answered; their latencies in milliseconds, in order. Throws when one is not
    /// answered within `timeout` seconds.
    public func measure(count: Int, to recipient: String, timeout: TimeInterval = 60) async throws -> [Double] {
        var latencies: [Double] = []
        for number in 0..<count {
            let started = DispatchTime.now().uptimeNanoseconds
            let draft = LocalCluster.draftJSON(to: [recipient], subject: "Flash \(number)", priority: "flash")
            let id = try await client.submit(json: draft).id
            let deadline = started + UInt64(timeout * 1e9)
            while true {
                if let arrived = arrivals.times.withLock({ $0.removeValue(forKey: id) }) {
                    latencies.append(Double(arrived - started) / 1e6)
                    break
                }
                guard DispatchTime.now().uptimeNanoseconds < deadline else {
                    throw FlashProbeTimeout(description: "flash notification \(number) to \(recipient) not answered within \(timeout) s")
                }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        return latencies
    }

    /// The nearest-rank percentile `p` (0...100) of `values`.
    public static func percentile(_ p: Double, of values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }
}

/// The event stream's side of a probe, shared with the task that reads it.
private final class Arrivals: Sendable {
    let times = Mutex<[UUID: UInt64]>([:])
}

/// A flash notification the probe sent was not answered in time.
public struct FlashProbeTimeout: Error, CustomStringConvertible {
    public var description: String
}
