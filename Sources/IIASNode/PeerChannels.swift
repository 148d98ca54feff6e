import Foundation
import IIASAPI
import IIASCrypto
import IIASTransport
import NIOCore
import NIOPosix
import Synchronization

/// Frames from one connection, handed to one consumer task in arrival order (so a
/// sender's notifications are logged in the order it sent them) and in batches — all that
/// arrived while the previous batch was being handled — so that one fdatasync can cover
/// them. Backpressure: the connection stops reading while `limit` frames wait. The
/// consumer's side (`next`, `consumed`) is safe from any thread; the connection's side is
/// `Reader`, a handler bound to the connection's event loop (`makeReader()`).
final class FrameInbox: Sendable {
    /// What the consumer sees.
    enum Item: Sendable {
        case established(PeerIdentity)
        case frame(Frame)
    }

    private struct Buffer {
        var items: [Item] = []
        var finished = false
        var waiter: CheckedContinuation<[Item]?, Never>?
    }

    private let buffer = Mutex(Buffer())
    private let limit: Int
    /// Frames delivered and not yet handled (added on the loop, taken by the consumer).
    private let waiting = Atomic<Int>(0)
    /// Reads are held back. The loop sets it, then checks `waiting` again; the consumer
    /// lowers `waiting`, then checks it: whichever goes second sees the other's change, so
    /// a pause is always lifted, and a consumer that keeps up never costs the loop a turn.
    private let paused = Atomic<Bool>(false)
    /// The reader's context while it is in a pipeline: set and used on the connection's loop only.
    private let context = Mutex<NIOLoopBound<ChannelHandlerContext>?>(nil)

    init(limit: Int) { self.limit = limit }

    /// The handler that feeds this inbox, for the end of the connection's pipeline.
    func makeReader() -> Reader { Reader(inbox: self) }

    /// Everything that arrived since the last call (waiting until something does), in
    /// arrival order; nil once the connection is gone and everything was taken.
    func next() async -> [Item]? {
        await withCheckedContinuation { continuation in
            let ready: [Item]?? = buffer.withLock { buffer in
                if !buffer.items.isEmpty {
                    defer { buffer.items.removeAll() }
                    return .some(buffer.items)
                }
                if buffer.finished { return .some(nil) }
                buffer.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    fileprivate func deliver(_ item: Item?) {
        let woken: (CheckedContinuation<[Item]?, Never>, [Item])? = buffer.withLock { buffer in
            if let item { buffer.items.append(item) } else { buffer.finished = true }
            guard let waiter = buffer.waiter else { return nil }
            buffer.waiter = nil
            defer { buffer.items.removeAll() }
            return (waiter, buffer.items)
        }
        if let (waiter, items) = woken { waiter.resume(returning: items.isEmpty ? nil : items) }
    }

    /// Called by the consumer (from any thread) after it handled `count` frames; a hop
    /// to the loop only when reads are held back.
    func consumed(_ count: Int = 1, on loop: EventLoop) {
        let left = waiting.subtract(count, ordering: .sequentiallyConsistent).newValue
        guard left < limit, paused.load(ordering: .sequentiallyConsistent) else { return }
        loop.execute {
            guard self.paused.load(ordering: .sequentiallyConsistent), self.waiting.load(ordering: .sequentiallyConsistent) < self.limit,
                  let context = self.context.withLock({ $0 })?.value else { return }
            self.paused.store(false, ordering: .sequentiallyConsistent)
            context.read()
        }
    }

    /// The connection's side: delivers frames and the session's start to the inbox, and
    /// holds reads back while the consumer is `limit` frames behind (a duplex handler, so
    /// that the pipeline's reads pass through it; writes go by untouched). Lives on the
    /// connection's event loop only.
    final class Reader: ChannelDuplexHandler {
        typealias InboundIn = Frame
        typealias OutboundIn = Frame
        typealias OutboundOut = Frame

        private let inbox: FrameInbox

        fileprivate init(inbox: FrameInbox) { self.inbox = inbox }

        func handlerAdded(context: ChannelHandlerContext) {
            inbox.context.withLock { $0 = NIOLoopBound(context, eventLoop: context.eventLoop) }
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            inbox.context.withLock { $0 = nil }
            inbox.deliver(nil)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .established(_, let identity)? = event as? PeerSession.Event {
                inbox.deliver(.established(identity))
            }
            context.fireUserInboundEventTriggered(event)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame {
            case .envelope, .receipt, .error, .attachment, .witnessRequest, .witnessResponse, .receiptProof, .receiptProofAck, .history:
                inbox.waiting.add(1, ordering: .sequentiallyConsistent)
                inbox.deliver(.frame(frame))
            default:
                break
            }
        }

        /// Holds reads back while the consumer is `limit` frames behind.
        func read(context: ChannelHandlerContext) {
            if inbox.waiting.load(ordering: .sequentiallyConsistent) >= inbox.limit {
                inbox.paused.store(true, ordering: .sequentiallyConsistent)
                if inbox.waiting.load(ordering: .sequentiallyConsistent) >= inbox.limit { return }
                inbox.paused.store(false, ordering: .sequentiallyConsistent)
            }
            context.read()
        }

        func channelInactive(context: ChannelHandlerContext) {
            inbox.deliver(nil)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            inbox.deliver(nil)
            context.close(promise: nil)
        }
    }
}

/// Bound to its connection's event loop: the inbox is what crosses threads.
@available(*, unavailable)
extension FrameInbox.Reader: Sendable {}

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
                inbox.makeReader(),
            ])
        }
    }
}
