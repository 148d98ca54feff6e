import Foundation
import IIASCrypto
import IIASTransport
import NIOCore
import NIOPosix

/// Frames from one connection, handed to one consumer task in arrival order (so a
/// sender's notifications are logged in the order it sent them), with backpressure: the
/// connection stops reading while `limit` frames wait.
final class FrameInbox: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    /// What the consumer sees.
    enum Item: Sendable {
        case established(PeerIdentity)
        case frame(Frame)
    }

    let items: AsyncStream<Item>
    private let continuation: AsyncStream<Item>.Continuation
    private let limit: Int
    private var waiting = 0
    private var paused = false
    private var context: ChannelHandlerContext?

    init(limit: Int) {
        (items, continuation) = AsyncStream.makeStream(of: Item.self)
        self.limit = limit
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil; continuation.finish() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .established(_, let identity)? = event as? PeerSession.Event {
            continuation.yield(.established(identity))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame {
        case .envelope, .receipt, .error:
            waiting += 1
            continuation.yield(.frame(frame))
        default:
            break
        }
    }

    /// Holds reads back while the consumer is `limit` frames behind.
    func read(context: ChannelHandlerContext) {
        if waiting >= limit { paused = true; return }
        context.read()
    }

    /// Called by the consumer (from any thread) after it handled one frame.
    func consumed(on loop: EventLoop) {
        loop.execute {
            self.waiting -= 1
            if self.paused, self.waiting < self.limit, let context = self.context {
                self.paused = false
                context.read()
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        continuation.finish()
        context.close(promise: nil)
    }
}

/// The pipeline every peer connection gets, both directions: mutual TLS 1.3 with the
/// allowed centers, the frame codec bounded by the configured size, the session
/// (HELLO, keep-alive, idle close), and the node's frame inbox.
enum PeerPipeline {
    static func configure(_ channel: Channel, crypto: NodeCrypto, isServer: Bool, allowed: Set<String>,
                          maxFrameBytes: Int, inbox: FrameInbox) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            let codec = FrameCodec(maximumLength: UInt32(maxFrameBytes))
            try channel.pipeline.syncOperations.addHandlers([
                TLSHandler(context: crypto.tls, isServer: isServer, trust: crypto.trust, allowedPeers: allowed,
                           handshakeTimeout: .seconds(10)),
                ByteToMessageHandler(FrameDecoder(codec: codec)), MessageToByteHandler(FrameEncoder(codec: codec)),
                FrameErrorHandler(), IdleStateHandler(readTimeout: .seconds(30)),
                PeerSession(configuration: .init(centerID: crypto.center.rawValue, softwareVersion: "iias/\(NodeVersion.current)")),
                inbox,
            ])
        }
    }
}

/// The software version a node announces in HELLO and status.
public enum NodeVersion {
    public static let current = "0.5.0"
}
