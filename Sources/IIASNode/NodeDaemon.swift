import Foundation
import IIASAPI
import Logging
import Prometheus
import ServiceLifecycle
import UnixSignals

/// A center's whole daemon as one swift-service-lifecycle service: the node (exchange
/// with peers, the log, SIGHUP reloads), its local API on the Unix socket and, when the
/// configuration asks for it, its metrics endpoint — composed here once, so that
/// `iias node run`, a test and a benchmark all start the same thing in the same way.
///
/// Run it in a `ServiceGroup` (or with ``runService(gracefulShutdownSignals:)``): on the
/// group's graceful shutdown the metrics endpoint and the local API close first, then the
/// node drains (stops accepting, closes links, appends a final signed tree head, closes
/// the log).
public struct NodeDaemon: Service {
    /// The node this daemon runs; in-process callers may ask it directly.
    public let node: Node
    public let configuration: NodeConfiguration
    /// The local API, whose allow-list follows SIGHUP.
    public let api: LocalAPIServer
    let services: [any Service]
    let logger: Logger

    /// Opens the node's log and keys (nothing touches the network until `run`).
    /// - Parameters:
    ///   - configuration: the node's configuration, already loaded and checked.
    ///   - configurationFile: what SIGHUP reloads; nil makes SIGHUP change nothing.
    ///   - logger: the daemon's logger (the node, the API and the metrics endpoint share it).
    ///   - metricsRegistry: what the metrics endpoint serves, when `metrics` is configured;
    ///     the caller bootstraps `MetricsSystem` with it.
    ///   - onReady: called once, with the line `ready center=… port=… socket=…`, when the
    ///     peer port, the API socket and the metrics endpoint are all open; a daemon that
    ///     fails to open one never calls it.
    /// - Throws: what `Node.init` throws: `NodeConfiguration.Problem`, `LogStoreError`
    ///   (`.inUse` when another process holds the log), a damaged log, unreadable keys.
    public init(configuration: NodeConfiguration, configurationFile: String?, logger: Logger,
                metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
                onReady: @escaping @Sendable (String) -> Void = { _ in }) throws {
        let node = try Node(configuration: configuration, logger: logger)
        let ready = ReadyCountdown(parts: configuration.metrics == nil ? 2 : 3, onReady: onReady)
        let limits = configuration.limits
        let api = LocalAPIServer(socketPath: configuration.socketPath, group: configuration.socketGroup, users: configuration.users,
                                 operations: node, center: configuration.center,
                                 maxRequestBytes: limits.maxRequestBytes, maxEventBacklogBytes: limits.maxEventBacklogBytes,
                                 maxConnections: limits.maxAPIConnections, maxConnectionsPerUser: limits.maxAPIConnectionsPerUser,
                                 requestTimeout: .nanoseconds(Int64(limits.apiRequestSeconds * 1e9)),
                                 requestDeadlines: configuration.requests, logger: logger) { ready.report(nil) }
        var services: [any Service] = [
            NodeService(node: node, configurationFile: configurationFile, onReady: { port in
                ready.report("ready center=\(configuration.center) port=\(port) socket=\(configuration.socketPath)")
            }, onReload: { fresh in api.reload(users: fresh.users) }),
            api,
        ]
        if let metrics = configuration.metrics {
            services.append(MetricsEndpoint(host: metrics.host, port: metrics.port, registry: metricsRegistry, logger: logger) { ready.report(nil) })
        }
        (self.node, self.configuration, self.api, self.services, self.logger) = (node, configuration, api, services, logger)
    }

    /// Runs the node, the API and the metrics endpoint until the enclosing group's
    /// graceful shutdown (then drains as described above) or until one of them fails,
    /// whose error it throws (`ListenFailure`, `APIServerError` for a port or socket that
    /// cannot be opened).
    public func run() async throws {
        // Shut down in reverse order: metrics, then the API, then the node.
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        try await group.run()
    }

    /// Runs the daemon as the process's only service, shutting down gracefully on
    /// `gracefulShutdownSignals`: what the executable calls.
    public func runService(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let group = ServiceGroup(configuration: .init(services: [.init(service: self)],
                                                      gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
        try await group.run()
    }
}

/// Calls `onReady` with the ready line once every part of the daemon has reported in.
final class ReadyCountdown: @unchecked Sendable {
    private let lock = NSLock()
    private var left: Int
    private var line: String?
    private let onReady: @Sendable (String) -> Void

    init(parts: Int, onReady: @escaping @Sendable (String) -> Void) {
        left = parts
        self.onReady = onReady
    }

    /// One part is open; `text` is the line, from the part that knows it.
    func report(_ text: String?) {
        lock.lock()
        if let text { line = text }
        left -= 1
        let complete = left == 0 ? line : nil
        lock.unlock()
        if let complete { onReady(complete) }
    }
}
