import Foundation
import IIASModel
@testable import IIASAPI
@testable import IIASNode
import Logging
import NIOCore
import XCTest

/// The local API's idle rule on a real socket: a connection that sends nothing is closed
/// after the idle timeout, a client that follows the event stream is not.
final class LocalAPIIdleTests: XCTestCase {
    func testASilentConnectionIsClosedAndAnEventStreamIsNot() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iias-idle-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("api.sock").path
        let user = getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "root"
        let server = LocalAPIServer(socketPath: path, group: nil, users: [user: .operator], operations: IdleOperations(), center: CenterID("AZ")!,
                                    requestTimeout: .milliseconds(300), logger: Logger(label: "test"))
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
