import Foundation
import IIASCrypto
import IIASTestSupport
import IIASTransport
import NIOCore
import NIOPosix
import XCTest

/// Records what the server's TLS handler reported, across connections.
final class Outcomes: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let lock = NSLock()
    private var entries: [String] = []
    func add(_ entry: String) { lock.lock(); entries.append(entry); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return entries }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let peer, let version, _)? = event as? TLSEvent { add("ok \(peer.centerID) \(version)") }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) { add("error \(error)") }
}

/// `openssl s_client` (the real binary) against our listener.
final class OpenSSLInteropTests: XCTestCase {
    let pki = TestPKI.shared

    func sClient(_ port: Int, _ extra: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run("/usr/bin/env", ["openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", pki.caFile] + extra,
                              stdin: [], timeout: 20)
    }

    func waitFor(_ outcomes: Outcomes, count: Int) -> [String] {
        let deadline = Date().addingTimeInterval(10)
        while outcomes.all.count < count, Date() < deadline { usleep(10_000) }
        return outcomes.all
    }

    func testSClientHandshakesWithACenterCertAndIsRefusedWithTLS12OrWithoutACert() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        let az = pki.centerDirectory("AZ")
        let serverTLS = try pki.tlsContext("GE")
        let outcomes = Outcomes()
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: serverTLS, isServer: true, trust: trust, allowedPeers: ["AZ"], handshakeTimeout: .seconds(5)),
                        outcomes,
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let port = try XCTUnwrap(server.localAddress?.port)

        let good = try sClient(port, ["-tls1_3", "-cert", "\(az)/tls.crt", "-key", "\(az)/tls.key"])
        XCTAssertTrue(good.stdout.contains("TLSv1.3"), good.stdout)
        XCTAssertEqual(waitFor(outcomes, count: 1), ["ok AZ TLSv1.3"])

        let old = try sClient(port, ["-tls1_2", "-cert", "\(az)/tls.crt", "-key", "\(az)/tls.key"])
        XCTAssertNotEqual(old.status, 0)
        let afterOld = waitFor(outcomes, count: 2)
        XCTAssertTrue(afterOld.last?.contains("unsupported protocol") == true, "\(afterOld)")

        _ = try sClient(port, ["-tls1_3"])
        let afterNoCert = waitFor(outcomes, count: 3)
        XCTAssertTrue(afterNoCert.last?.contains("peer did not return a certificate") == true, "\(afterNoCert)")
    }

    func testOurClientHandshakesWithOpenSSLSServerVerifyingItsCertificate() throws {
        let ge = pki.centerDirectory("GE")
        // A free port: bind 0, read it, release it (s_server takes it a moment later).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let probe = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        let port = try XCTUnwrap(probe.localAddress?.port)
        try probe.close().wait()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "s_server", "-accept", "127.0.0.1:\(port)", "-tls1_3", "-Verify", "1",
                             "-cert", "\(ge)/tls.crt", "-key", "\(ge)/tls.key", "-CAfile", pki.caFile, "-naccept", "1", "-quiet"]
        // s_server -quiet prints what it receives to stdout: seeing our bytes there proves it accepted our certificate.
        let directory = try makeTemporaryDirectory("sserver")
        defer { try? FileManager.default.removeItem(at: directory) }
        let stdoutURL = directory.appendingPathComponent("stdout")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        let stdoutFile = try FileHandle(forWritingTo: stdoutURL)
        defer { try? stdoutFile.close() }
        process.standardInput = Pipe()
        process.standardOutput = stdoutFile
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() }; process.waitUntilExit() }

        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        let clientTLS = try pki.tlsContext("AZ")
        let outcomes = Outcomes()
        let deadline = Date().addingTimeInterval(10)
        var channel: Channel?
        while channel == nil, Date() < deadline {
            channel = try? ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            TLSHandler(context: clientTLS, isServer: false, trust: trust, allowedPeers: ["GE"], handshakeTimeout: .seconds(5)),
                            outcomes,
                        ])
                    }
                }
                .connect(host: "127.0.0.1", port: port).wait()
            if channel == nil { usleep(20_000) }
        }
        let connected = try XCTUnwrap(channel, "openssl s_server did not come up")
        XCTAssertEqual(waitFor(outcomes, count: 1), ["ok GE TLSv1.3"])
        // -Verify 1 makes s_server abort a handshake without a verified client certificate; it only prints data it accepted.
        let marker = "IIAS-AZ-PROOF-\(UUID().uuidString)"
        try connected.writeAndFlush(connected.allocator.buffer(string: marker + "\n")).wait()
        let printDeadline = Date().addingTimeInterval(10)
        var printed = ""
        while !printed.contains(marker), Date() < printDeadline {
            printed = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
            if !printed.contains(marker) { usleep(10_000) }
        }
        XCTAssertTrue(printed.contains(marker), "s_server did not print our bytes: \(printed)")
        try? connected.close().wait()
    }
}
