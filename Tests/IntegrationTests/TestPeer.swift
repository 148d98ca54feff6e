import Foundation
import IIASCrypto
import IIASTestSupport
import IIASTransport
import NIOCore
import NIOPosix

/// A peer speaking the frame protocol by hand to a real node process over mutual TLS,
/// under a test center's TLS key: what a hostile or mistaken peer can send.
enum TestPeer {
    /// Frames from the node, in order.
    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = Frame
        let frames: AsyncStream<Frame>
        let continuation: AsyncStream<Frame>.Continuation
        let established: EventLoopPromise<Void>
        /// The peer's center, from its verified TLS identity, once the session is up.
        private(set) var peer: String?
        init(established: EventLoopPromise<Void>) {
            (frames, continuation) = AsyncStream.makeStream(of: Frame.self)
            self.established = established
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .established(_, let identity)? = event as? PeerSession.Event {
                peer = identity.centerID
                established.succeed(())
            }
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(unwrapInboundIn(data)) }
        func channelInactive(context: ChannelHandlerContext) {
            established.fail(ChannelError.ioOnClosedChannel)
            continuation.finish()
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) {
            established.fail(error)
            context.close(promise: nil)
        }
    }

    /// Connects to `port` as `center` (its TLS key) and completes HELLO.
    static func connect(as center: String, port: Int, expecting peer: String = "GE") async throws -> (Channel, AsyncStream<Frame>.Iterator) {
        let tls = try TLS(center)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let established = loop.makePromise(of: Void.self)
        let collector = Collector(established: established)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(try tls.handlers(isServer: false, center: center, peers: [peer]) + [collector])
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let timeout = loop.scheduleTask(in: .seconds(20)) { established.fail(ChannelError.connectTimeout(.seconds(20))) }
        try await established.futureResult.get()
        timeout.cancel()
        return (channel, collector.frames.makeAsyncIterator())
    }

    /// Listens on 127.0.0.1 as `center`, accepting `peer` alone: each connection once its
    /// HELLO is in, with the frames it brings. Close the returned channel to stop.
    static func listen(as center: String, expecting peer: String) async throws -> (server: Channel, port: Int, sessions: AsyncStream<(Channel, AsyncStream<Frame>)>) {
        let (server, port, sessions) = try await listen(as: center, accepting: [peer])
        return (server, port, AsyncStream { continuation in
            let forwarding = Task {
                for await (channel, _, frames) in sessions { continuation.yield((channel, frames)) }
                continuation.finish()
            }
            continuation.onTermination = { _ in forwarding.cancel() }
        })
    }

    /// Listens on 127.0.0.1:`port` (0: any) as `center`, accepting any of `peers`: each
    /// connection once its HELLO is in, with the peer's center and the frames it brings.
    static func listen(as center: String, accepting peers: [String], port: Int = 0) async throws
        -> (server: Channel, port: Int, sessions: AsyncStream<(Channel, String, AsyncStream<Frame>)>) {
        let tls = try TLS(center)
        let (sessions, arrived) = AsyncStream.makeStream(of: (Channel, String, AsyncStream<Frame>).self)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let established = channel.eventLoop.makePromise(of: Void.self)
                let collector = Collector(established: established)
                established.futureResult.whenSuccess { arrived.yield((channel, collector.peer ?? "", collector.frames)) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(try tls.handlers(isServer: true, center: center, peers: peers) + [collector])
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return (server, server.localAddress?.port ?? 0, sessions)
    }

    /// A test center's TLS key and the test CA, for either end of a connection.
    private struct TLS: @unchecked Sendable {
        let context: OpenSSLContext
        let trust: TrustAnchor

        init(_ center: String) throws {
            let dir = TestPKI.shared.centerDirectory(center)
            context = try OpenSSLContext(certificateFile: "\(dir)/tls.crt", privateKeyFile: "\(dir)/tls.key",
                                         caFile: TestPKI.shared.caFile, crlFile: TestPKI.shared.crlFile)
            trust = try TrustAnchor(caFile: TestPKI.shared.caFile, crlFile: TestPKI.shared.crlFile)
        }

        func handlers(isServer: Bool, center: String, peers: [String]) throws -> [any ChannelHandler] {
            [try TLSHandler(context: context, isServer: isServer, trust: trust, allowedPeers: Set(peers)),
             ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()),
             PeerSession(configuration: .init(centerID: center, softwareVersion: "test"))]
        }
    }
}
