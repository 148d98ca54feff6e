import Foundation
import IIASCrypto
import IIASTestSupport
import IIASTransport
import NIOCore
import NIOPosix
import XCTest

/// On the verified handshake, writes `total` bytes of a known pattern as fast as it can.
final class Blaster: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let total: Int
    init(total: Int) { self.total = total }
    static func byte(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index % 251) }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is TLSEvent else { return context.fireUserInboundEventTriggered(event) }
        var offset = 0
        while offset < total {
            let count = min(65_536, total - offset)
            let chunk = (offset..<offset + count).map(Blaster.byte)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: chunk)), promise: nil)
            offset += count
        }
        context.flush()
    }
}

/// A consumer that only reads when the test asks: counts bytes, checks the pattern, reports each read's end.
final class SlowConsumer: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let handshake: EventLoopPromise<Void>
    var received = 0
    var patternBroken = false
    var readDone: EventLoopPromise<Int>?
    init(handshake: EventLoopPromise<Void>) { self.handshake = handshake }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSEvent { handshake.succeed(()) }
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        for (index, byte) in buffer.readableBytesView.enumerated() where byte != Blaster.byte(received + index) { patternBroken = true }
        received += buffer.readableBytes
    }
    func channelReadComplete(context: ChannelHandlerContext) {
        readDone?.succeed(received); readDone = nil
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        handshake.fail(error); readDone?.fail(error); readDone = nil
    }
}

/// TLSHandler backpressure: with autoRead off, a consumer that reads slowly holds only what one read brings.
final class TLSBackpressureTests: XCTestCase {
    let pki = TestPKI.shared

    func testSlowConsumerBoundsWhatOneReadDeliversAndStillGetsEveryByte() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        func tls(_ center: String) throws -> OpenSSLContext { try pki.tlsContext(center) }
        let serverTLS = try tls("GE"), clientTLS = try tls("AZ")
        let total = 4 * 1024 * 1024
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: serverTLS, isServer: true, trust: trust, allowedPeers: ["AZ"], handshakeTimeout: .seconds(5)),
                        Blaster(total: total),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }

        let loop = group.next()
        let handshake = loop.makePromise(of: Void.self)
        let consumer = SlowConsumer(handshake: handshake)
        // autoRead off: the handshake must still complete (TLSHandler reads for it).
        let client = try ClientBootstrap(group: loop)
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: clientTLS, isServer: false, trust: trust, allowedPeers: ["GE"], handshakeTimeout: .seconds(5)),
                        consumer,
                    ])
                }
            }
            .connect(to: server.localAddress!).wait()
        defer { try? client.close().wait() }
        let guardTask = loop.scheduleTask(in: .seconds(30)) { client.close(promise: nil) }
        defer { guardTask.cancel() }
        try handshake.futureResult.wait()

        // One read at a time: each brings at most what NIO reads from the socket for one read
        // (maxMessagesPerRead × the largest receive buffer, 4 × 64 KiB), never the whole 4 MiB.
        let bound = 4 * 65_536 + 16_384
        var before = try loop.submit { consumer.received }.wait()
        XCTAssertLessThanOrEqual(before, bound, "bytes arrived without a read")
        var reads = 0
        while before < total, reads < 100_000 {
            let done = loop.makePromise(of: Int.self)
            try loop.submit { consumer.readDone = done; client.read() }.wait()
            let after = try done.futureResult.wait()
            XCTAssertLessThanOrEqual(after - before, bound, "one read delivered too much")
            before = after
            reads += 1
        }
        XCTAssertEqual(before, total)
        XCTAssertGreaterThan(reads, total / bound - 1, "fewer reads than the bound allows: reads were not limiting")
        XCTAssertFalse(try loop.submit { consumer.patternBroken }.wait(), "bytes differ from what was sent")
    }

    func testTLSErrorsReadForPeople() {
        XCTAssertEqual(TLSError.unexpectedPeer("GE").description, "the peer is center GE, not the one expected")
        XCTAssertEqual(TLSError.peerCertificateRejected("certificate revoked").description,
                       "the peer's certificate was rejected: certificate revoked")
        XCTAssertEqual(TLSError.handshakeTimedOut.description, "the TLS handshake did not finish in time")
    }

    /// A TCP server that accepts and never speaks: our client's handshake fails with its own typed case, then closes.
    func testSilentPeerFailsTheHandshakeWithHandshakeTimedOut() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        let azDir = pki.centerDirectory("AZ")
        let clientTLS = try pki.tlsContext("AZ")
        let silent = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? silent.close().wait() }
        let loop = group.next()
        let handshake = loop.makePromise(of: Void.self)
        let client = try ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: clientTLS, isServer: false, trust: trust, allowedPeers: ["GE"], handshakeTimeout: .milliseconds(200)),
                        SlowConsumer(handshake: handshake),
                    ])
                }
            }
            .connect(to: silent.localAddress!).wait()
        let guardTask = loop.scheduleTask(in: .seconds(10)) { handshake.fail(ChannelError.connectTimeout(.seconds(10))) }
        XCTAssertThrowsError(try handshake.futureResult.wait()) { XCTAssertEqual($0 as? TLSError, .handshakeTimedOut) }
        guardTask.cancel()
        try client.closeFuture.wait()
    }
}
