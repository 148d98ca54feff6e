import Foundation
import IIASModel
@testable import IIASNode
import Logging
import NIOCore
import XCTest

/// The local API's idle rule on a real socket: a connection that sends nothing is closed
/// after the idle timeout, a client that follows the event stream is not.
final class LocalAPIIdleTests: XCTestCase {
    /// A node that does nothing: the transport's behaviour is under test, not the node's.
    private struct Idle: NodeOperations {
        func submit(_ notification: FormalNotification, by actor: Actor) async throws(NodeError) -> Submission { throw .unavailable("idle") }
        func submit(batch: [FormalNotification], by actor: Actor) async throws(NodeError) -> [Submission] { throw .unavailable("idle") }
        func reply(to id: UUID, from sender: CenterID?, with draft: FormalNotification, by actor: Actor) async throws(NodeError) -> Submission { throw .unavailable("idle") }
        func inbox(_ filter: InboxFilter) async -> [InboxItem] { [] }
        func read(_ id: UUID, from sender: CenterID?, by actor: Actor) async throws(NodeError) -> ReadResult { throw .notFound(id) }
        func acknowledge(_ id: UUID, from sender: CenterID?, by actor: Actor) async throws(NodeError) -> InboxItem { throw .notFound(id) }
        func outbox(limit: Int?) async -> [OutboxItem] { [] }
        func delivery(of id: UUID) async throws(NodeError) -> OutboxItem { throw .notFound(id) }
        func peers() async -> [PeerStatus] { [] }
        func status() async -> NodeStatus {
            NodeStatus(center: CenterID("AZ")!, version: "test", started: Date(), logEntries: 0, inbox: 0, unread: 0,
                       outboxPending: 0, peersConnected: 0, peersConfigured: 0, treeHead: nil)
        }
        func treeHead() async -> TreeHead? { nil }
        func subscribe(_ sink: @escaping @Sendable (NodeEvent?) -> Void) async -> EventSubscription { EventSubscription(key: UUID()) }
        func unsubscribe(_ subscription: EventSubscription) async {}
    }

    func testASilentConnectionIsClosedAndAnEventStreamIsNot() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iias-idle-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("api.sock").path
        let user = getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "root"
        let server = LocalAPIServer(socketPath: path, group: nil, users: [user: .operator], operations: Idle(), center: CenterID("AZ")!,
                                    idleTimeout: .milliseconds(300), logger: Logger(label: "test"))
        let listener = try await server.bind()
        defer { listener.close(promise: nil) }

        let follower = try XCTUnwrap(UnixDomainSocket.connect(path))
        defer { close(follower) }
        let request = "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n"
        XCTAssertEqual(request.withCString { write(follower, $0, strlen($0)) }, request.utf8.count)
        var buffer = [UInt8](repeating: 0, count: 4096)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(follower, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let head = read(follower, &buffer, buffer.count)
        XCTAssertGreaterThan(head, 0)
        XCTAssertTrue(String(decoding: buffer.prefix(max(0, head)), as: UTF8.self).hasPrefix("HTTP/1.1 200"))

        let silent = try XCTUnwrap(UnixDomainSocket.connect(path))
        defer { close(silent) }
        setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        XCTAssertEqual(read(silent, &buffer, buffer.count), 0, "closed by the node within 5 s (the timeout is 0.3 s), errno \(errno)")

        // Five timeouts later the stream is still open: nothing to read, no hang-up.
        var watch = pollfd(fd: follower, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&watch, 1, 1500), 0, "the event stream was left alone (revents \(watch.revents))")
    }
}
