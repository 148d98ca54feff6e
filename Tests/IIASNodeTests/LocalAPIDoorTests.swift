import Foundation
import IIASModel
@testable import IIASAPI
@testable import IIASNode
import Logging
import NIOCore
import XCTest

/// The local API's door on a real socket: a caller not in `api.users` is answered 403 as
/// soon as the request's head is in (the body is never waited for), a request must arrive
/// whole within its deadline however it trickles, one uid cannot take every place, and a
/// new allow-list closes the connections of the users it removes.
final class LocalAPIDoorTests: XCTestCase {
    private var me: String { getpwuid(getuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "root" }

    private func server(users: [String: Role], maxConnections: Int = 256, perUser: Int = 32,
                        requestTimeout: TimeAmount = .seconds(30)) async throws -> (LocalAPIServer, Channel) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iias-door-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let server = LocalAPIServer(socketPath: folder.appendingPathComponent("api.sock").path, group: nil, users: users,
                                    operations: IdleOperations(), center: CenterID("AZ")!, maxConnections: maxConnections,
                                    maxConnectionsPerUser: perUser, requestTimeout: requestTimeout, logger: Logger(label: "test"))
        let listener = try await server.bind()
        addTeardownBlock { try? await listener.close() }
        return (server, listener)
    }

    func testAUserNotInTheListGets403BeforeTheBodyIsSent() async throws {
        let (server, _) = try await server(users: ["someone-else": .operator])
        let connection = try RawAPIConnection(server.socketPath)
        connection.send("POST /v1/notifications HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        let (answer, closed) = connection.readUntilClosed(within: 5)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 403"), answer)
        XCTAssertTrue(answer.contains("user \(me) is not allowed"), answer)
        XCTAssertTrue(closed, "the node closed the connection without waiting for the 100,000 bytes announced")
    }

    func testTheWholeRequestHasADeadlineThatTricklingBytesDoNotRestart() async throws {
        let (server, _) = try await server(users: [me: .operator], requestTimeout: .milliseconds(600))
        let connection = try RawAPIConnection(server.socketPath)
        let started = ContinuousClock.now
        connection.send("GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        var closed = false
        while !closed, ContinuousClock.now - started < .seconds(5) {
            closed = !connection.send("a") || connection.isClosed(waiting: 100)
        }
        let elapsed = ContinuousClock.now - started
        XCTAssertTrue(closed, "a byte every 100 ms kept the connection open for 5 s")
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(550))
        XCTAssertLessThan(elapsed, .seconds(3), "closed at the deadline (0.6 s), not later")

        // A request that arrives whole in time is answered, and the clock starts again after it.
        let prompt = try RawAPIConnection(server.socketPath)
        prompt.send("GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertTrue(prompt.readAvailable(within: 5).hasPrefix("HTTP/1.1 200"))
        XCTAssertTrue(prompt.readUntilClosed(within: 5).closed, "an idle kept connection is closed at the deadline too")
    }

    func testOneUidCannotTakeEveryPlace() async throws {
        let (server, _) = try await server(users: [me: .operator], maxConnections: 8, perUser: 3)
        // Connections are set up on several event loops, so which of the four is refused is not fixed.
        var held = try (0..<4).map { _ in try RawAPIConnection(server.socketPath) }
        try await waitFor("one of the uid's four connections is closed as it is accepted") { held.contains { $0.isClosed(waiting: 10) } }
        held.removeAll { $0.isClosed(waiting: 10) }
        XCTAssertEqual(held.count, 3, "three stay open")
        let refused = try RawAPIConnection(server.socketPath)
        XCTAssertTrue(refused.readUntilClosed(within: 5).closed, "a fifth is closed too while three are open")
        held.removeLast()   // closes it: its place is given back
        try await waitFor("a place is free again") {
            let next = try RawAPIConnection(server.socketPath)
            next.send("GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
            return next.readAvailable(within: 2).hasPrefix("HTTP/1.1 200")
        }
    }

    func testAUidOutsideTheListHoldsOnlyAFewPlaces() async throws {
        let (server, _) = try await server(users: ["someone-else": .operator], perUser: 100)
        var held = try (0..<(LocalAPIServer.refusedUserConnections + 3)).map { _ in try RawAPIConnection(server.socketPath) }
        try await waitFor("all but \(LocalAPIServer.refusedUserConnections) are closed as they are accepted") {
            held.filter { $0.isClosed(waiting: 10) }.count == 3
        }
        held.removeAll { $0.isClosed(waiting: 10) }
        XCTAssertEqual(held.count, LocalAPIServer.refusedUserConnections)
    }

    func testANewListClosesARemovedUsersEventStreamAndRefusesTheirNextRequest() async throws {
        let (server, _) = try await server(users: [me: .operator, "bob": .auditor])
        let follower = try RawAPIConnection(server.socketPath)
        follower.send("GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertTrue(follower.readAvailable(within: 5).hasPrefix("HTTP/1.1 200"), "the stream is open")
        let kept = try RawAPIConnection(server.socketPath)
        kept.send("GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertTrue(kept.readAvailable(within: 5).hasPrefix("HTTP/1.1 200"))

        XCTAssertEqual(server.reload(users: ["bob": .auditor]), 2, "the stream and the kept connection")
        XCTAssertTrue(follower.readUntilClosed(within: 5).closed, "the removed user's event stream is closed")
        XCTAssertTrue(kept.readUntilClosed(within: 5).closed)
        let next = try RawAPIConnection(server.socketPath)
        next.send("GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertTrue(next.readUntilClosed(within: 5).text.hasPrefix("HTTP/1.1 403"))

        let opened = try RawAPIConnection(server.socketPath)   // accepted while the user is not listed
        XCTAssertEqual(server.reload(users: [me: .operator]), 0)
        let back = try RawAPIConnection(server.socketPath)
        back.send("GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertTrue(back.readAvailable(within: 5).hasPrefix("HTTP/1.1 200"), "listed again, let in again")
        opened.send("GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        XCTAssertTrue(opened.readAvailable(within: 5).hasPrefix("HTTP/1.1 200"), "a connection accepted before the user was added is judged when its request comes")
        XCTAssertEqual(server.reload(users: [:]), 2, "and it is tracked: the next reload closes it with the other")
    }

    private func waitFor(_ what: String, within seconds: Double = 5, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if (try? condition()) == true { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("not within \(seconds) s: \(what)")
    }
}

/// A blocking client connection to the API socket speaking raw bytes; closed when released.
final class RawAPIConnection {
    let fd: Int32

    init(_ path: String) throws {
        guard let fd = UnixDomainSocket.connect(path) else { throw POSIXError(.ECONNREFUSED) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Whether every byte was written (false once the node closed the connection).
    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Whether the node closed its end (waiting up to `milliseconds` for a sign).
    func isClosed(waiting milliseconds: Int32) -> Bool {
        var watch = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&watch, 1, milliseconds) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }

    /// What arrives within `seconds` in one read (the first answer or its beginning).
    func readAvailable(within seconds: Int32) -> String {
        var watch = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&watch, 1, seconds * 1000) > 0 else { return "" }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : ""
    }

    /// Everything until the node closes the connection, or what came within `seconds`.
    func readUntilClosed(within seconds: Int32) -> (text: String, closed: Bool) {
        let deadline = ContinuousClock.now + .seconds(Int(seconds))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            var watch = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&watch, 1, 100) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 { received += buffer[..<n]; continue }
            if n == 0 || (errno != EAGAIN && errno != EINTR) { return (String(decoding: received, as: UTF8.self), true) }
        }
        return (String(decoding: received, as: UTF8.self), false)
    }
}
