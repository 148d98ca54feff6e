import Foundation
import IIASAPI
import Logging
import Metrics
import NIOCore
import Synchronization

/// Bounds the connections a listener holds open: at most `total`, and at most
/// `perAddress` from one remote address. A connection past either bound is closed as it
/// is accepted — before TLS or HTTP spend anything on it — so that a flood of connections
/// (from the network, or a runaway local script) cannot take the descriptors and memory
/// the log and the real peers need. Open connections are a gauge and refusals a counter
/// (`<metric>_open`, `<metric>_refused_total`); refusals are logged at most once every
/// `warningInterval`, so the flood cannot fill the log either.
final class ConnectionLimiter: Sendable {
    let total: Int
    let perAddress: Int
    private let what: String
    private let refusals: Metrics.Counter
    private let openGauge: Metrics.Gauge
    private let logger: Logger
    private static let warningInterval: Duration = .seconds(10)

    private struct State {
        var open = 0
        var byAddress: [String: Int] = [:]
        var refusedSinceWarning = 0
        var lastWarning: ContinuousClock.Instant?
    }
    private let state = Mutex(State())

    /// `what` names the listener in the warning, e.g. "peer"; `metric` is the prefix of
    /// its metrics, e.g. "iias_peer_connections".
    init(total: Int, perAddress: Int = .max, what: String, metric: String, logger: Logger) {
        self.total = total
        self.perAddress = perAddress
        self.what = what
        self.refusals = Metrics.Counter(label: metric + "_refused_total")
        self.openGauge = Metrics.Gauge(label: metric + "_open")
        self.logger = logger
    }

    /// Takes a place for a connection from `address` (nil: no address, e.g. a Unix
    /// socket), or returns false when a bound is reached; `atMost` replaces `perAddress`
    /// for this caller. Each `true` needs one `release`.
    func admit(_ address: String?, atMost: Int? = nil) -> Bool {
        let perAddress = atMost ?? self.perAddress
        enum Decision { case admitted(open: Int), refused, refusedWithWarning(refused: Int, open: Int) }
        let decision: Decision = state.withLock { state in
            let fromAddress = address.map { state.byAddress[$0, default: 0] } ?? 0
            if state.open < total, fromAddress < perAddress {
                state.open += 1
                if let address { state.byAddress[address] = fromAddress + 1 }
                return .admitted(open: state.open)
            }
            state.refusedSinceWarning += 1
            let now = ContinuousClock.now
            guard state.lastWarning.map({ now - $0 >= Self.warningInterval }) ?? true else { return .refused }
            state.lastWarning = now
            defer { state.refusedSinceWarning = 0 }
            return .refusedWithWarning(refused: state.refusedSinceWarning, open: state.open)
        }
        switch decision {
        case .admitted(let open):
            openGauge.record(open)
            return true
        case .refused:
            refusals.increment()
            return false
        case .refusedWithWarning(let refused, let open):
            refusals.increment()
            logger.warning("refusing \(what) connections: at the limit", metadata: [
                "refusedSinceLastWarning": "\(refused)", "open": "\(open)", "address": "\(address ?? "local")",
                "limits": "\(total) in all, \(perAddress == .max ? "any" : String(perAddress)) from one address",
            ])
            return false
        }
    }

    /// Gives back the place `admit(address)` took.
    func release(_ address: String?) {
        let open = state.withLock { state in
            state.open -= 1
            if let address, let count = state.byAddress[address] {
                state.byAddress[address] = count > 1 ? count - 1 : nil
            }
            return state.open
        }
        openGauge.record(open)
    }

    /// Admits `channel` (closing it at once when a bound is reached) and gives its place
    /// back when it closes. True when admitted: the caller builds its pipeline.
    func admit(_ channel: Channel) -> Bool { admit(channel, from: channel.remoteAddress?.ipAddress) }

    /// The same with the caller named by `address` (an IP address, or for the local API
    /// the caller's uid), of whom at most `atMost` (default `perAddress`) may be open.
    func admit(_ channel: Channel, from address: String?, atMost: Int? = nil) -> Bool {
        guard admit(address, atMost: atMost) else {
            channel.close(promise: nil)
            return false
        }
        channel.closeFuture.whenComplete { _ in self.release(address) }
        return true
    }

    /// Connections open now (for tests; operators read the gauge).
    var openCount: Int { state.withLock { $0.open } }
}
