import Foundation
import IIASAPI
import Logging
import ServiceLifecycle
import UnixSignals

/// The node as a swift-service-lifecycle service: starts the exchange, reloads on
/// SIGHUP, and on graceful shutdown (SIGTERM/SIGINT via the ServiceGroup) drains: stops
/// accepting, closes links, appends a final signed tree head and closes the log.
public struct NodeService: Service {
    let node: Node
    let configurationFile: String?
    let onReady: @Sendable (Int) -> Void
    let onReload: @Sendable (NodeConfiguration) -> Void

    /// `onReload` gets each configuration SIGHUP loaded and checked, before the node
    /// applies its part: the local API's allow-list follows it even when the node's part
    /// (certificates, peers) fails, so that removing a user never waits on a certificate.
    public init(node: Node, configurationFile: String?, onReady: @escaping @Sendable (Int) -> Void = { _ in },
                onReload: @escaping @Sendable (NodeConfiguration) -> Void = { _ in }) {
        self.node = node
        self.configurationFile = configurationFile
        self.onReady = onReady
        self.onReload = onReload
    }

    public func run() async throws {
        let port = try await node.start()
        onReady(port)
        let file = configurationFile
        let node = self.node, onReload = self.onReload
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    guard let file else { continue }
                    let fresh: NodeConfiguration
                    do { fresh = try await NodeConfiguration.load(file: file) } catch {
                        node.logger.error("SIGHUP: the new configuration was not applied (nothing changed)", metadata: ["problem": "\(error)"])
                        continue
                    }
                    onReload(fresh)
                    do { try await node.reload(fresh) } catch {
                        node.logger.error("SIGHUP: api.users was reloaded, but the CA, CRL, certificates and peers were not", metadata: ["problem": "\(error)"])
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await node.stop()
    }
}
