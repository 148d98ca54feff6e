import NIOCore

/// The session rules one level above frames: HELLO first, keep-alive, idle close, PING flood limit.
///
/// Why: TLS proves which center holds the key; the session makes both sides agree on that id
/// and the protocol version before any envelope moves, and drops dead or abusive peers.
/// Place it after the frame decoder/encoder and an `IdleStateHandler(readTimeout: keepAlive)`.
public final class PeerSession: ChannelDuplexHandler {
    public typealias InboundIn = Frame
    public typealias InboundOut = Frame
    public typealias OutboundIn = Frame
    public typealias OutboundOut = Frame

    /// What this side announces and how it treats silence and PINGs.
    public struct Configuration: Sendable {
        /// Our center id, sent in our HELLO (must match our TLS certificate for the peer to accept it).
        public var centerID: String
        /// Free text naming our software, sent in our HELLO.
        public var softwareVersion: String
        /// With no frame for this long, close the session.
        public var idleTimeout: TimeAmount
        /// Most PINGs accepted from the peer in one second; more is a flood.
        public var maxPingsPerSecond: Int

        public init(centerID: String, softwareVersion: String, idleTimeout: TimeAmount = .seconds(90), maxPingsPerSecond: Int = 20) {
            self.centerID = centerID
            self.softwareVersion = softwareVersion
            self.idleTimeout = idleTimeout
            self.maxPingsPerSecond = maxPingsPerSecond
        }
    }

    /// Fired inbound once the peer's HELLO was accepted.
    public enum Event: Sendable, Equatable {
        /// The session is up; the peer's HELLO and its verified TLS identity.
        case established(Hello, PeerIdentity)
    }

    /// ERROR code: the peer's HELLO was missing, lied about the center id, or had another protocol version.
    public static let helloRefusedCode: UInt16 = 2
    /// ERROR code: the peer sent more PINGs per second than allowed.
    public static let pingFloodCode: UInt16 = 3
    /// ERROR code: no frame from the peer within the idle timeout.
    public static let idleTimeoutCode: UInt16 = 4

    let configuration: Configuration
    var peer: PeerIdentity?
    var peerHello: Hello?
    var closing = false
    var lastFrame = NIODeadline.now()
    var pingWindowStart = NIODeadline.now()
    var pingsInWindow = 0

    public init(configuration: Configuration) { self.configuration = configuration }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let identity, _, _)? = event as? TLSEvent {
            peer = identity
            lastFrame = .now()
            let hello = Hello(centerID: configuration.centerID, softwareVersion: configuration.softwareVersion)
            context.writeAndFlush(wrapOutboundOut(.hello(hello)), promise: nil)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read, !closing {
            if NIODeadline.now() - lastFrame >= configuration.idleTimeout {
                refuse(context, code: Self.idleTimeoutCode, reason: "idle timeout")
            } else {
                context.writeAndFlush(wrapOutboundOut(.ping([])), promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Sends an ERROR frame, then closes this connection.
    func refuse(_ context: ChannelHandlerContext, code: UInt16, reason: String) {
        guard !closing else { return }
        closing = true
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.error(code: code, reason: reason))).whenComplete { _ in
            bound.value.close(promise: nil)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = unwrapInboundIn(data)
        lastFrame = .now()
        guard let peer else { return refuse(context, code: Self.helloRefusedCode, reason: "frame before TLS handshake") }
        guard peerHello != nil else {
            guard case .hello(let hello) = frame else {
                return refuse(context, code: Self.helloRefusedCode, reason: "HELLO expected first, got \(frame.type)")
            }
            guard hello.centerID == peer.centerID else {
                return refuse(context, code: Self.helloRefusedCode, reason: "HELLO center id \(hello.centerID) is not the certificate's \(peer.centerID)")
            }
            guard hello.protocolVersion == Hello.currentProtocolVersion else {
                return refuse(context, code: Self.helloRefusedCode, reason: "protocol version \(hello.protocolVersion) not supported (want \(Hello.currentProtocolVersion))")
            }
            peerHello = hello
            context.fireUserInboundEventTriggered(Event.established(hello, peer))
            return
        }
        switch frame {
        case .hello:
            refuse(context, code: Self.helloRefusedCode, reason: "second HELLO")
        case .ping(let body):
            let now = NIODeadline.now()
            if now - pingWindowStart >= .seconds(1) { pingWindowStart = now; pingsInWindow = 0 }
            pingsInWindow += 1
            if pingsInWindow > configuration.maxPingsPerSecond {
                refuse(context, code: Self.pingFloodCode, reason: "more than \(configuration.maxPingsPerSecond) PINGs per second")
            } else {
                context.writeAndFlush(wrapOutboundOut(.pong(body)), promise: nil)
            }
        case .error:
            context.fireChannelRead(data)
            closing = true
            context.close(promise: nil)
        default:
            context.fireChannelRead(data)
        }
    }
}
