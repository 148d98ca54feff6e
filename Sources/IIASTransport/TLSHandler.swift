import COpenSSL
import IIASCrypto
import NIOCore

/// Fired inbound once the handshake finished and the peer was verified.
public enum TLSEvent: Sendable, Equatable {
    /// The peer's verified identity, plus the negotiated version and cipher.
    case handshakeCompleted(PeerIdentity, version: String, cipher: String)
}

/// Mutual TLS 1.3 on the system OpenSSL as a NIO handler: ciphertext below, plaintext above.
///
/// Why: IIAS must use the host's OpenSSL (not BoringSSL); this handler drives a memory-BIO
/// ``TLSConnection`` from the event loop, so OpenSSL never touches the socket.
public final class TLSHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    enum State { case idle, handshaking, active, closed }

    let connection: TLSConnection
    let trust: TrustAnchor
    let allowedPeers: Set<String>?
    let handshakeTimeout: TimeAmount
    var state = State.idle
    var pending: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    var timeoutTask: Scheduled<Void>?

    /// A handler for one connection; `allowedPeers` is the expected peer (client) or the configured set (server);
    /// nil accepts any center the CA vouches for (diagnostics such as `iias peer check`).
    public init(context: OpenSSLContext, isServer: Bool, trust: TrustAnchor, allowedPeers: Set<String>?,
                handshakeTimeout: TimeAmount = .seconds(10)) throws {
        connection = try TLSConnection(context: context, isServer: isServer)
        self.trust = trust
        self.allowedPeers = allowedPeers
        self.handshakeTimeout = handshakeTimeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func start(_ context: ChannelHandlerContext) {
        guard state == .idle else { return }
        state = .handshaking
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeoutTask = context.eventLoop.scheduleTask(in: handshakeTimeout) {
            let (handler, context) = bound.value
            guard handler.state == .handshaking else { return }
            handler.fail(context, TLSError.handshakeTimedOut)
        }
        advanceHandshake(context)
        if state == .handshaking { context.read() }  // the handshake reads even with autoRead off
    }

    func fail(_ context: ChannelHandlerContext, _ error: Error) {
        guard state != .closed else { return }
        state = .closed
        timeoutTask?.cancel()
        flushCiphertext(context)
        for (_, promise) in pending { promise?.fail(error) }
        pending.removeAll()
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    func flushCiphertext(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        let bytes = connection.takeOutbound(allocator: context.channel.allocator)
        if bytes.readableBytes == 0 { promise?.succeed(()); return }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
    }

    func advanceHandshake(_ context: ChannelHandlerContext) {
        do {
            let progress = try connection.handshake()
            flushCiphertext(context)
            guard progress == .done else { return }
            let peer = try connection.verifiedPeer(trust: trust, allowed: allowedPeers)
            state = .active
            timeoutTask?.cancel()
            context.fireUserInboundEventTriggered(TLSEvent.handshakeCompleted(peer, version: connection.protocolVersion, cipher: connection.cipher))
            let queued = pending
            pending.removeAll()
            for (buffer, promise) in queued { writePlaintext(context, buffer, promise) }
            if !queued.isEmpty { context.flush() }
            if deliverAllPlaintext(context) { context.fireChannelReadComplete() }
        } catch {
            fail(context, error)
        }
    }

    /// Decrypts and passes on every whole TLS record buffered; true if it passed on anything.
    ///
    /// Backpressure: the handler only holds what the socket delivered for the last `read`
    /// (a partial record at most stays behind), because ``read(context:)`` is the only way
    /// more ciphertext comes in once the handshake is done.
    @discardableResult
    func deliverAllPlaintext(_ context: ChannelHandlerContext) -> Bool {
        var delivered = false
        do {
            while state == .active {
                var plaintext = context.channel.allocator.buffer(capacity: 16384)
                if try connection.read(into: &plaintext) == 0 { break }
                delivered = true
                context.fireChannelRead(wrapInboundOut(plaintext))
            }
        } catch {
            fail(context, error)
        }
        return delivered
    }

    /// Passes the read on to the socket only once no decrypted plaintext is pending.
    ///
    /// Why: a slow consumer (autoRead off, reading on demand) must bound what this handler
    /// and the socket read hold for it; the handshake itself reads regardless (see `start`).
    public func read(context: ChannelHandlerContext) {
        if state == .active, deliverAllPlaintext(context) { context.fireChannelReadComplete() }
        if state != .closed { context.read() }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.receive(unwrapInboundIn(data))
        switch state {
        case .handshaking: advanceHandshake(context); if state == .handshaking { context.read() }
        case .active: deliverAllPlaintext(context); flushCiphertext(context)
        case .idle, .closed: break
        }
    }

    func writePlaintext(_ context: ChannelHandlerContext, _ buffer: ByteBuffer, _ promise: EventLoopPromise<Void>?) {
        do {
            try connection.write(buffer)
            context.write(wrapOutboundOut(connection.takeOutbound(allocator: context.channel.allocator)), promise: promise)
        } catch {
            promise?.fail(error)
            fail(context, error)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch state {
        case .active: writePlaintext(context, buffer, promise)
        case .idle, .handshaking: pending.append((buffer, promise))
        case .closed: promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if state == .active { context.flush() }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if state == .active {
            state = .closed
            _ = SSL_shutdown(connection.ssl)  // close_notify
            flushCiphertext(context)
        }
        timeoutTask?.cancel()
        context.close(mode: mode, promise: promise)
    }
}
