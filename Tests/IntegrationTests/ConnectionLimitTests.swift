import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// A node closes connections past its limits as it accepts them, stays up, and serves
/// again once places are free — on its peer port and on its local API socket.
final class ConnectionLimitTests: XCTestCase {
    /// Waits (5 s at most) until the node closes one of `fds`, then returns which ones it
    /// closed. The node decides each connection on its event loop, so which one of those
    /// opened at once is refused is not fixed: only how many.
    private func closedByNode(_ fds: [Int32]) -> [Int32] {
        var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&polled, nfds_t(polled.count), 5000)
        return fds.filter { fd in
            var byte: UInt8 = 0
            return recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK)) == 0
        }
    }

    func testPeerConnectionsPastTheLimitAreClosedAtOnceAndRealPeersGetInAfterwards() async throws {
        let limits: [String: Any] = ["retryInitialSeconds": 0.1, "retryMaxSeconds": 0.5, "maxPeerConnections": 8, "maxPeerConnectionsPerAddress": 2]
        let cluster = try NodeCluster(["AZ", "GE"], extra: ["limits": limits])
        try cluster.start("AZ")
        let port = try XCTUnwrap(cluster.ports["AZ"])
        // Silent connections from 127.0.0.1: two take that address's places (the TLS
        // handshake timeout would close them after 10 s), the third is refused.
        var silent = try (0..<3).map { _ in try XCTUnwrap(LoopbackTCP.connect(port: port, receiveTimeout: 5)) }
        defer { silent.forEach { close($0) } }   // each closed once: a closed number may be reused by another file
        // Long before the handshake timeout, one of the three is closed and two stay open.
        XCTAssertEqual(closedByNode(silent).count, 1, "one of three connections from one address is closed at once")
        try await eventually("AZ logs the refusal") { cluster.errorOutput("AZ").contains("refusing peer connections: at the limit") }

        // The places free up when those close; a real peer then connects and delivers.
        silent.forEach { close($0) }
        silent = []
        try cluster.start("GE")
        let sent = try await cluster.client("GE").submit(NodeCluster.draft(to: ["AZ"], subject: "Through once the flood is gone"))
        try await eventually("GE's notification in AZ's inbox") {
            try await cluster.client("AZ").inbox().contains { $0.id == sent.id }
        }
    }

    func testLocalAPIConnectionsPastTheLimitAreClosedAtOnce() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: ["limits": ["maxAPIConnections": 2]])
        try cluster.start("AZ")
        let path = cluster.socketPath("AZ")
        func connect() throws -> Int32 {
            guard let fd = UnixDomainSocket.connect(path) else { throw TestFailure("cannot connect to \(path)") }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return fd
        }
        var held = try (0..<3).map { _ in try connect() }
        defer { held.forEach { close($0) } }   // each closed once: a closed number may be reused by another file
        let closed = closedByNode(held)
        XCTAssertEqual(closed.count, 1, "one of three connections is closed at once, two stay open")
        held.removeAll { fd in closed.contains(fd) ? (close(fd), true).1 : false }
        for fd in held {   // the two left are served
            let request = "GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n"
            _ = request.withCString { write(fd, $0, strlen($0)) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &buffer, buffer.count)
            XCTAssertTrue(n > 0 && String(decoding: buffer[..<n], as: UTF8.self).hasPrefix("HTTP/1.1 200"), "an admitted connection is answered")
        }
        do {
            _ = try await cluster.client("AZ").status()
            XCTFail("a client got in past the limit")
        } catch let failure as LocalAPIClient.Failure {
            XCTAssertTrue(failure.hint?.contains("limits.maxAPIConnections") == true, "\(failure): \(failure.hint ?? "")")
        }
        close(held.removeFirst())
        try await eventually("a client gets in once a place is free") {
            (try? await cluster.client("AZ").status()) != nil
        }
        XCTAssertTrue(cluster.isRunning("AZ"))
    }

    /// A program that makes a client per call (as tests and short scripts do) gives each
    /// connection back when the client goes: twenty in turn fit under a limit of six (the
    /// spare places absorb closes still on their way).
    func testAClientThatGoesAwayClosesTheConnectionItKept() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: ["limits": ["maxAPIConnections": 6]])
        try cluster.start("AZ")
        for call in 0..<20 {
            do { _ = try await cluster.client("AZ").status() } catch { return XCTFail("call \(call) with a new client: \(error)") }
        }
    }
}
