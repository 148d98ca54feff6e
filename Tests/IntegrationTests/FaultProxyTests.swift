import Foundation
import IIASTestSupport
import XCTest

/// The fault proxy the chaos scenarios put between nodes: each mode does what it says to
/// real TCP connections, and a bad command leaves it running.
final class FaultProxyTests: XCTestCase {
    /// A one-connection-at-a-time echo server on 127.0.0.1 in a thread of the test.
    private func startEcho() throws -> (port: Int, stop: () -> Void) {
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                guard bind(server, $0, length) == 0, listen(server, 16) == 0, getsockname(server, $0, &length) == 0 else {
                    throw TestFailure("echo server: bind/listen failed")
                }
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread {
            while true {
                let client = accept(server, nil, nil)
                if client < 0 { return }
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while true {
                        let n = read(client, &buffer, buffer.count)
                        if n <= 0 { break }
                        _ = write(client, buffer, n)
                    }
                    close(client)
                }
            }
        }
        return (port, { shutdown(server, Int32(SHUT_RDWR)); close(server) })
    }

    /// Connects, sends `text`, and returns what comes back within `timeout` (nil: nothing,
    /// or the connection was reset/closed).
    private func roundTrip(port: Int, _ text: String, timeout: Int = 2) -> String? {
        guard let fd = LoopbackTCP.connect(port: port, receiveTimeout: timeout) else { return nil }
        defer { close(fd) }
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while received.count < text.utf8.count {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return received.isEmpty ? nil : String(decoding: received, as: UTF8.self) }
            received += buffer[..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }

    func testModesPassDelayBlackholeDropFlipAndHeal() throws {
        let echo = try startEcho()
        defer { echo.stop() }
        let proxy = try RunningProcess(RepositoryPaths.executable("iias-fault-proxy"), ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:\(echo.port)"])
        let banner = try proxy.nextLine()
        let port = try XCTUnwrap(banner.split(separator: ":").last.flatMap { Int($0) }, banner)

        XCTAssertEqual(roundTrip(port: port, "hello"), "hello")

        XCTAssertTrue(try proxy.command("delay 300").hasPrefix("ok delay 300"))
        let started = Date()
        XCTAssertEqual(roundTrip(port: port, "slow", timeout: 5), "slow")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.3, "a 300 ms delay each way cannot answer sooner")

        XCTAssertTrue(try proxy.command("blackhole").hasPrefix("ok blackhole"))
        XCTAssertNil(roundTrip(port: port, "lost", timeout: 1), "a blackhole answers nothing")

        XCTAssertTrue(try proxy.command("drop").hasPrefix("ok drop"))
        XCTAssertNil(roundTrip(port: port, "refused", timeout: 1))

        // One byte in four inverted (its low bit), counted across both directions: the
        // request's fourth byte on the way out, then the answer's second and sixth.
        XCTAssertTrue(try proxy.command("flip 4").hasPrefix("ok flip 4"))
        XCTAssertEqual(roundTrip(port: port, "aaaaaa"), "a`a`a`")
        XCTAssertTrue(try proxy.command("status").hasSuffix("flipped=3"))
        XCTAssertTrue(try proxy.command("flip 0").hasPrefix("error unknown command"), "flip needs a count of 1 or more")

        let answer = try proxy.command("no-such-mode")
        XCTAssertTrue(answer.hasPrefix("error unknown command"), answer)

        XCTAssertTrue(try proxy.command("pass").hasPrefix("ok pass"))
        XCTAssertEqual(roundTrip(port: port, "healed"), "healed", "after healing traffic flows again")
        let status = try proxy.command("status")
        XCTAssertTrue(status.hasPrefix("ok pass"), status)
        proxy.send("quit")
        proxy.process.waitUntilExit()
        XCTAssertEqual(proxy.process.terminationStatus, 0)
    }

    func testBadArgumentsExitTwo() throws {
        let result = try ProcessRunner.run(RepositoryPaths.executable("iias-fault-proxy"), ["--target", "nowhere"], timeout: 10)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("--target wants IP:PORT"), result.stderr)
    }
}
