import Foundation
import IIASAPI
import IIASLog
import IIASNode
import IIASTestSupport
import Logging
import ServiceLifecycle
import XCTest

/// `NodeDaemon` run in-process in a `ServiceGroup`, as `iias node run` runs it, with the
/// real certificates of Scripts/pki.sh: it reports ready once the peer port and the API
/// socket are open, answers `LocalAPIClient` over its Unix socket (and refuses what it
/// must), and the group's graceful shutdown ends it within a bound, the socket removed
/// and the log closed on a signed tree head over what was logged.
final class NodeDaemonTests: XCTestCase {
    static let bound = Duration.seconds(30)

    func testDaemonServesItsSocketAndShutsDownGracefully() async throws {
        let cluster = try LocalCluster(["AZ", "GE"], pki: TestPKI.shared.layout, executable: RepositoryPaths.iiasExecutable)
        let configuration = try await NodeConfiguration.load(file: cluster.configURL("AZ").path)
        let logger = Logger(label: "iias.test.daemon")
        let (readyLines, ready) = AsyncStream.makeStream(of: String.self)
        let daemon = try NodeDaemon(configuration: configuration, configurationFile: nil, logger: logger) { line in
            ready.yield(line)
            ready.finish()
        }
        let group = ServiceGroup(services: [daemon], logger: logger)
        let running = Task { try await group.run() }
        // Bounded: past the bound the stream ends and the group is cancelled, so the test fails instead of hanging.
        let bound = Self.bound
        let watchdog = Task { [ready, running] in
            guard (try? await Task.sleep(for: bound)) != nil else { return }
            ready.finish()
            running.cancel()
        }
        defer { watchdog.cancel() }

        let line = await readyLines.first { _ in true }
        XCTAssertEqual(line, "ready center=AZ port=\(cluster.ports["AZ"]!) socket=\(cluster.socketPath("AZ"))")

        let client = LocalAPIClient(socketPath: cluster.socketPath("AZ"))
        let status = try await client.status()
        XCTAssertEqual(status.center.rawValue, "AZ")
        XCTAssertEqual(status.peersConfigured, 1)
        let peers = try await client.peers()
        XCTAssertEqual(peers.map(\.center.rawValue), ["GE"])
        let sent = try await client.submit(LocalCluster.draft(to: ["GE"], subject: "Held for GE while it is down"))
        XCTAssertEqual(sent.recipients.map(\.rawValue), ["GE"])
        let outbox = try await client.outbox()
        XCTAssertEqual(outbox.map(\.id), [sent.id])
        do {
            _ = try await client.read(UUID())
            XCTFail("an id nobody sent is not in the inbox")
        } catch LocalAPIClient.Failure.refused(let status, let body) {
            XCTAssertEqual(status, 404, body.error)
        }

        let stopping = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        XCTAssertLessThan(ContinuousClock.now - stopping, Self.bound, "shut down gracefully, not cancelled by the watchdog")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.socketPath("AZ")), "the API removes its socket as it stops")
        do {
            _ = try await LocalAPIClient(socketPath: cluster.socketPath("AZ")).status()
            XCTFail("nothing answers on the socket after the shutdown")
        } catch LocalAPIClient.Failure.unreachable {}

        let log = try LogStore(directory: cluster.logDirectory("AZ"), readOnly: true)
        defer { log.close() }
        let last = try log.entry(at: log.count - 1)
        XCTAssertEqual(last.type, .treeHead, "the node's drain signs a final tree head over the submission")
        XCTAssertTrue(String(decoding: last.payload, as: UTF8.self).contains("\n\(log.count - 1)\n"), "it covers every entry before it")
    }
}
