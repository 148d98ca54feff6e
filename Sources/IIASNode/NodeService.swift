import Foundation
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

    public init(node: Node, configurationFile: String?, onReady: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.node = node
        self.configurationFile = configurationFile
        self.onReady = onReady
    }

    public func run() async throws {
        let port = try await node.start()
        onReady(port)
        let file = configurationFile
        let node = self.node
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    guard let file else { continue }
                    do {
                        try await node.reload(try await NodeConfiguration.load(file: file))
                    } catch {
                        node.logger.error("SIGHUP: the new configuration was not applied", metadata: ["problem": "\(error)"])
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await node.stop()
    }
}
