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
/// them. Backpressure: the connection stops reading while `limit` frames wait (a duplex
/// handler, so that the pipeline's reads pass through it; writes go by untouched).
final class FrameInbox: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    /// What the consumer sees.
    enum Item: Sendable {
        case established(PeerIdentity)
        case frame(Frame)
    }

    private let lock = NSLock()
    private var buffered: [Item] = []
    private var finished = false
    private var waiter: CheckedContinuation<[Item]?, Never>?
    private let limit: Int
    /// Frames delivered and not yet handled (added on the loop, taken by the consumer).
    private let waiting = Atomic<Int>(0)
    /// Reads are held back. The loop sets it, then checks `waiting` again; the consumer
    /// lowers `waiting`, then checks it: whichever goes second sees the other's change, so
    /// a pause is always lifted, and a consumer that keeps up never costs the loop a turn.
    private let paused = Atomic<Bool>(false)
    // Event-loop state.
    private var context: ChannelHandlerContext?

    init(limit: Int) { self.limit = limit }

    /// Everything that arrived since the last call (waiting until something does), in
    /// arrival order; nil once the connection is gone and everything was taken.
    func next() async -> [Item]? {
        await withCheckedContinuation { continuation in
            lock.lock()
            if !buffered.isEmpty {
                let items = buffered
                buffered.removeAll()
                lock.unlock()
                continuation.resume(returning: items)
            } else if finished {
                lock.unlock()
                continuation.resume(returning: nil)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }

    private func deliver(_ item: Item?) {
        lock.lock()
        if let item { buffered.append(item) } else { finished = true }
        guard let waiter else { lock.unlock(); return }
        self.waiter = nil
        let items = buffered
        buffered.removeAll()
        lock.unlock()
        waiter.resume(returning: items.isEmpty ? nil : items)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil; deliver(nil) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .established(_, let identity)? = event as? PeerSession.Event {
            deliver(.established(identity))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame {
        case .envelope, .receipt, .error:
            waiting.add(1, ordering: .sequentiallyConsistent)
            deliver(.frame(frame))
        default:
            break
        }
    }

    /// Holds reads back while the consumer is `limit` frames behind.
    func read(context: ChannelHandlerContext) {
        if waiting.load(ordering: .sequentiallyConsistent) >= limit {
            paused.store(true, ordering: .sequentiallyConsistent)
            if waiting.load(ordering: .sequentiallyConsistent) >= limit { return }
            paused.store(false, ordering: .sequentiallyConsistent)
        }
        context.read()
    }

    /// Called by the consumer (from any thread) after it handled `count` frames; a hop
    /// to the loop only when reads are held back.
    func consumed(_ count: Int = 1, on loop: EventLoop) {
        let left = waiting.subtract(count, ordering: .sequentiallyConsistent).newValue
        guard left < limit, paused.load(ordering: .sequentiallyConsistent) else { return }
        loop.execute {
            guard self.paused.load(ordering: .sequentiallyConsistent), self.waiting.load(ordering: .sequentiallyConsistent) < self.limit,
                  let context = self.context else { return }
            self.paused.store(false, ordering: .sequentiallyConsistent)
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deliver(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        deliver(nil)
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
