import Foundation
import IIASCrypto
import IIASTestSupport
import IIASTransport
import NIOCore
import NIOPosix
import XCTest

/// Echoes every frame back once the peer is verified.
final class EchoFrames: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(wrapOutboundOut(unwrapInboundIn(data)), promise: nil)
    }
}

/// Collects frames and the handshake event; completes when `expected` frames came back.
final class CollectFrames: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    let expected: Int
    let done: EventLoopPromise<[Frame]>
    let peer: EventLoopPromise<String>
    var frames: [Frame] = []
    init(expected: Int, done: EventLoopPromise<[Frame]>, peer: EventLoopPromise<String>) {
        self.expected = expected; self.done = done; self.peer = peer
    }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let identity, _, _)? = event as? TLSEvent { peer.succeed(identity.centerID) }
        context.fireUserInboundEventTriggered(event)
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        frames.append(unwrapInboundIn(data))
        if frames.count == expected { done.succeed(frames) }
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        done.fail(error); peer.fail(error)
    }
}

/// A thread-safe boolean for "did the test's own deadline fire".
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    func set() { lock.lock(); raised = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return raised }
}

final class TLSHandlerSocketTests: XCTestCase {
    let pki = TestPKI.shared

    func testTwoEndpointsOverRealSocketsEchoRandomFramesByteExact() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        func tls(_ center: String) throws -> OpenSSLContext { try pki.tlsContext(center) }
        let serverTLS = try tls("GE"), clientTLS = try tls("AZ")
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: serverTLS, isServer: true, trust: trust, allowedPeers: ["AZ"], handshakeTimeout: .seconds(5)),
                        ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()), EchoFrames(),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }

        var generator = SystemRandomNumberGenerator()
        let frames: [Frame] = (0..<2000).map { _ in
            .envelope((0..<Int.random(in: 0...3000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        let loop = group.next()
        let done = loop.makePromise(of: [Frame].self), peer = loop.makePromise(of: String.self)
        let collector = CollectFrames(expected: frames.count, done: done, peer: peer)
        let client = try tlsClient(on: loop, to: server.localAddress!, tls: clientTLS, trust: trust, collector: collector)
        defer { try? client.close().wait() }
        let timeout = loop.scheduleTask(in: .seconds(30)) { done.fail(ChannelError.connectTimeout(.seconds(30))) }
        for frame in frames { client.write(frame, promise: nil) }
        client.flush()
        XCTAssertEqual(try peer.futureResult.wait(), "GE")
        let echoed = try done.futureResult.wait()
        timeout.cancel()
        XCTAssertEqual(echoed.count, frames.count)
        XCTAssertTrue(echoed == frames, "echoed frames differ")
    }

    /// A mutual-TLS client to GE on `loop` whose frames `collector` gathers; with
    /// `encoder`, frames can also be written (without it, raw bytes).
    func tlsClient(on loop: EventLoop, to address: SocketAddress, tls: OpenSSLContext, trust: TrustAnchor,
                   collector: CollectFrames, encoder: Bool = true) throws -> Channel {
        try ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    var handlers: [any ChannelHandler] = [
                        try TLSHandler(context: tls, isServer: false, trust: trust, allowedPeers: ["GE"], handshakeTimeout: .seconds(5)),
                        ByteToMessageHandler(FrameDecoder()),
                    ]
                    if encoder { handlers.append(MessageToByteHandler(FrameEncoder())) }
                    handlers.append(collector)
                    try channel.pipeline.syncOperations.addHandlers(handlers)
                }
            }
            .connect(to: address).wait()
    }

    /// Raw TCP client: sends `bytes` (maybe none) and reports when the server closed it.
    func rawClient(group: EventLoopGroup, to address: SocketAddress, sending bytes: [UInt8]) throws -> Channel {
        let channel = try ClientBootstrap(group: group).connect(to: address).wait()
        if !bytes.isEmpty { try channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).wait() }
        return channel
    }

    func testHostilePeersAreClosedAndTheListenerStillServesAGoodPeer() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        let dir = pki.centerDirectory("GE"), azDir = pki.centerDirectory("AZ")
        let serverTLS = try pki.tlsContext("GE")
        let clientTLS = try pki.tlsContext("AZ")
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: serverTLS, isServer: true, trust: trust, allowedPeers: ["AZ"], handshakeTimeout: .milliseconds(300)),
                        ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()), FrameErrorHandler(), EchoFrames(),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }

        // Never speaks: closed by the handshake timeout. Garbage: closed by OpenSSL's refusal.
        let silent = try rawClient(group: group, to: server.localAddress!, sending: [])
        let garbage = try rawClient(group: group, to: server.localAddress!, sending: Array("GET / HTTP/1.1\r\n\r\n".utf8) + Array(repeating: 0xFF, count: 500))
        for channel in [silent, garbage] {
            let closedByTest = Flag()
            let guardTask = channel.eventLoop.scheduleTask(in: .seconds(10)) { closedByTest.set(); channel.close(promise: nil) }
            try channel.closeFuture.wait()
            guardTask.cancel()
            XCTAssertFalse(closedByTest.value, "the server left a hostile connection open")
        }

        // A verified peer announcing a 4 GiB frame: answered with ERROR, then closed.
        do {
            let loop = group.next()
            let done = loop.makePromise(of: [Frame].self), peer = loop.makePromise(of: String.self)
            let collector = CollectFrames(expected: 1, done: done, peer: peer)
            let hostile = try tlsClient(on: loop, to: server.localAddress!, tls: clientTLS, trust: trust, collector: collector, encoder: false)
            let timeout = loop.scheduleTask(in: .seconds(10)) { done.fail(ChannelError.connectTimeout(.seconds(10))) }
            hostile.writeAndFlush(hostile.allocator.buffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x02]), promise: nil)
            let reply = try done.futureResult.wait()
            guard case .error(let code, let reason)? = reply.first else { return XCTFail("\(reply)") }
            XCTAssertEqual(code, FrameErrorHandler.badFrameCode)
            XCTAssertTrue(reason.contains("oversize"), reason)
            try hostile.closeFuture.wait()
            timeout.cancel()
        }

        // A verified peer that starts a 1,000-byte frame, sends 10 bytes of it and resets
        // the connection (SO_LINGER 0 turns close into an RST).
        do {
            let loop = group.next()
            let done = loop.makePromise(of: [Frame].self), peer = loop.makePromise(of: String.self)
            let collector = CollectFrames(expected: 1, done: done, peer: peer)
            let resetting = try tlsClient(on: loop, to: server.localAddress!, tls: clientTLS, trust: trust, collector: collector, encoder: false)
            let timeout = loop.scheduleTask(in: .seconds(10)) { peer.fail(ChannelError.connectTimeout(.seconds(10))) }
            XCTAssertEqual(try peer.futureResult.wait(), "GE")
            timeout.cancel()
            try resetting.writeAndFlush(resetting.allocator.buffer(bytes: [0, 0, 0x03, 0xE8, 0x02] + Array(repeating: 7, count: 10))).wait()
            let options = try XCTUnwrap(resetting as? SocketOptionProvider)
            try options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).wait()
            try resetting.close().wait()
            done.fail(ChannelError.ioOnClosedChannel)
        }

        // A good peer afterwards.
        let loop = group.next()
        let done = loop.makePromise(of: [Frame].self), peer = loop.makePromise(of: String.self)
        let collector = CollectFrames(expected: 1, done: done, peer: peer)
        let client = try tlsClient(on: loop, to: server.localAddress!, tls: clientTLS, trust: trust, collector: collector)
        defer { try? client.close().wait() }
        let timeout = loop.scheduleTask(in: .seconds(10)) { done.fail(ChannelError.connectTimeout(.seconds(10))) }
        try client.writeAndFlush(Frame.ping([4, 2])).wait()
        XCTAssertEqual(try done.futureResult.wait(), [.ping([4, 2])])
        timeout.cancel()
    }
}
