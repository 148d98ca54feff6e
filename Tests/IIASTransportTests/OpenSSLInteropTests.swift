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
        let ge = pki.centerDirectory("GE"), az = pki.centerDirectory("AZ")
        let serverTLS = try OpenSSLContext(certificateFile: "\(ge)/tls.crt", privateKeyFile: "\(ge)/tls.key", caFile: pki.caFile, crlFile: pki.crlFile)
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
}
