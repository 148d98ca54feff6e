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
        init(established: EventLoopPromise<Void>) {
            (frames, continuation) = AsyncStream.makeStream(of: Frame.self)
            self.established = established
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event is PeerSession.Event { established.succeed(()) }
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
        let dir = TestPKI.shared.centerDirectory(center)
        let context = try OpenSSLContext(certificateFile: "\(dir)/tls.crt", privateKeyFile: "\(dir)/tls.key",
                                         caFile: TestPKI.shared.caFile, crlFile: TestPKI.shared.crlFile)
        let trust = try TrustAnchor(caFile: TestPKI.shared.caFile, crlFile: TestPKI.shared.crlFile)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let established = loop.makePromise(of: Void.self)
        let collector = Collector(established: established)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(context: context, isServer: false, trust: trust, allowedPeers: [peer]),
                        ByteToMessageHandler(FrameDecoder()), MessageToByteHandler(FrameEncoder()),
                        PeerSession(configuration: .init(centerID: center, softwareVersion: "test")), collector,
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let timeout = loop.scheduleTask(in: .seconds(20)) { established.fail(ChannelError.connectTimeout(.seconds(20))) }
        try await established.futureResult.get()
        timeout.cancel()
        return (channel, collector.frames.makeAsyncIterator())
    }
}
