import Foundation
import IIASAPI
import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// One HTTP connection: the door's decision taken when it was accepted (a caller not in
/// `api.users` gets 403 as soon as the request's head arrives, and the connection closes
/// before any body is read), each request collected within its size bound and its
/// deadline, the answer from the router.
final class APIHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: APIRouter
    let maxRequestBytes: Int
    let maxEventBacklogBytes: Int
    let logger: Logger
    /// The door's decision when the connection was accepted (or, for one refused then, when
    /// its request came: SIGHUP may have added the user since), and the uid it was taken for.
    private var admission: APIDoor.Decision
    let uid: UInt32?
    /// How long the whole next request may take to arrive, counted from the connection's
    /// opening or the previous answer — not an idle timer that each byte restarts.
    let requestTimeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var refusing = false
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var tooLarge = false
    private var streaming: Task<Void, Never>?
    // An event stream's state, on the loop.
    private var eventsOpen = false
    private var heartbeat: RepeatedTask?
    private var unsubscribe: (() -> Void)?

    init(router: APIRouter, admission: APIDoor.Decision, uid: UInt32?, maxRequestBytes: Int, maxEventBacklogBytes: Int,
         requestTimeout: TimeAmount, logger: Logger) {
        self.router = router
        self.admission = admission
        self.uid = uid
        self.requestTimeout = requestTimeout
        self.maxRequestBytes = maxRequestBytes
        self.maxEventBacklogBytes = maxEventBacklogBytes
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        Metrics.Counter(label: "iias_api_connections_total").increment()
        armDeadline(context: context)
        context.fireChannelActive()
    }

    /// Starts the clock for the next request: when it has not arrived whole in time, the
    /// connection closes (an event stream, whose request is complete, is never timed).
    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: requestTimeout) {
            Metrics.Counter(label: "iias_api_request_timeouts_total").increment()
            bound.value.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        streaming?.cancel()
        deadline?.cancel()
        heartbeat?.cancel()
        unsubscribe?()
        unsubscribe = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            guard !refusing else { return }
            if admission.actor == nil, let actor = router.access.decide(uid: uid).actor {
                admission = .admitted(actor)
                router.access.track(context.channel, as: actor)
            }
            if admission.actor == nil, case .json(let status, let bytes) = router.refuse(admission) {
                // Not in the allow-list: answered now, closed once the answer is out; the
                // body, if any, is never read.
                refusing = true
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
                write(status: status, contentType: "application/json", body: bytes, keepAlive: false, context: context)
                return
            }
            head = request
            body = context.channel.allocator.buffer(capacity: 0)
            tooLarge = false
            if let length = request.headers.first(name: "content-length").flatMap(Int.init), length > maxRequestBytes {
                tooLarge = true
            }
        case .body(var chunk):
            guard !tooLarge, !refusing else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > maxRequestBytes {
                tooLarge = true
                body = nil
                return
            }
            body?.writeBuffer(&chunk)
        case .end:
            guard let head, !refusing else { return }
            self.head = nil
            deadline?.cancel()
            deadline = nil
            let request = APIRequest(method: head.method, uri: head.uri, body: tooLarge ? nil : body.map { Array($0.readableBytesView) },
                                     tooLarge: tooLarge, uid: uid, keepAlive: head.isKeepAlive)
            body = nil
            respond(to: request, context: context)
        }
    }

    private func respond(to request: APIRequest, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let router = self.router
        streaming = Task { await APIHandler.answer(request, router: router, loop: loop, bound: bound) }
    }

    /// The router's answer to `request`, written on the connection's loop.
    private static func answer(_ request: APIRequest, router: APIRouter, loop: EventLoop,
                               bound: NIOLoopBound<(APIHandler, ChannelHandlerContext)>) async {
        switch await router.handle(request) {
        case .json(let status, let bytes):
            loop.execute {
                let (handler, context) = bound.value
                handler.write(status: status, contentType: "application/json", body: bytes, keepAlive: request.keepAlive, context: context)
            }
        case .octets(let bytes):
            loop.execute {
                let (handler, context) = bound.value
                handler.write(status: .ok, contentType: "application/octet-stream", body: bytes, keepAlive: request.keepAlive, context: context)
            }
        case .events(let filter):
            await follow(router.operations, filter: filter, loop: loop, bound: bound)
        }
    }

    /// Streams the node's events on this connection until it closes or the node stops.
    /// The node's sink hands each event to the loop, which encodes them (off the node's
    /// actor): events that arrive while a write still waits for the loop join it, so a
    /// busy node writes one chunk per loop turn. The head goes out once the subscription holds (a
    /// client that saw it misses nothing after), and the lines only after the head. The
    /// loop adds a heartbeat every 15 s, so a vanished client is noticed; a client that
    /// stops reading while more than `limits.maxEventBacklogBytes` wait is cut off. Events
    /// the filter does not admit are dropped in the sink: they never wake the loop.
    private static func follow(_ operations: any NodeOperations, filter: EventFilter, loop: EventLoop,
                               bound: NIOLoopBound<(APIHandler, ChannelHandlerContext)>) async {
        let encoder = APIJSON.encoder()
        let heartbeat = APIRouter.eventLine(EventLine(heartbeat: ()), encoder: encoder)
        let waiting = HandOff<NodeEvent>()
        let subscription = await operations.subscribe { event in
            guard let event else {
                loop.execute { bound.value.0.endEvents(context: bound.value.1) }
                return
            }
            guard filter.admits(event), waiting.add(CollectionOfOne(event)) else { return }
            loop.execute { bound.value.0.writeEvents(waiting, encoder: encoder, context: bound.value.1) }
        }
        loop.execute {
            let (handler, context) = bound.value
            handler.unsubscribe = { Task { await operations.unsubscribe(subscription) } }
            guard context.channel.isActive else { handler.unsubscribe?(); return }
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/x-ndjson")
            headers.add(name: "transfer-encoding", value: "chunked")
            headers.add(name: "cache-control", value: "no-store")
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            handler.eventsOpen = true
            handler.heartbeat = loop.scheduleRepeatedTask(initialDelay: Self.heartbeatInterval, delay: Self.heartbeatInterval) { _ in
                if let heartbeat { Self.writeLine(heartbeat, context: bound.value.1) }
            }
            handler.writeEvents(waiting, encoder: encoder, context: context)
        }
    }

    /// Writes the events waiting as lines (on the loop), once the head is out.
    private func writeEvents(_ waiting: HandOff<NodeEvent>, encoder: JSONEncoder, context: ChannelHandlerContext) {
        guard eventsOpen else { return }
        let events = waiting.take()
        guard !events.isEmpty else { return }
        var lines: [UInt8] = []
        for event in events { lines += APIRouter.eventLine(EventLine(event), encoder: encoder) ?? [] }
        guard !lines.isEmpty else { return }   // an empty chunk would end the stream
        if let buffered = try? context.channel.syncOptions?.getOption(.bufferedWritableBytes), buffered > maxEventBacklogBytes {
            logger.warning("closing an event stream whose client stopped reading", metadata: ["bufferedBytes": "\(buffered)",
                                                                                             "limit": "limits.maxEventBacklogBytes"])
            context.close(promise: nil)
            return
        }
        Self.writeLine(lines, context: context)
    }

    /// The node stopped: the stream ends, and the connection with it.
    private func endEvents(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        guard eventsOpen else { context.close(promise: nil); return }
        eventsOpen = false
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    /// One line of an event stream, flushed at once (on the connection's loop).
    private static func writeLine(_ line: [UInt8], context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: line)))), promise: nil)
    }

    /// How often an event stream carries a heartbeat line when nothing else happens.
    static let heartbeatInterval = TimeAmount.seconds(15)

    private func write(status: HTTPResponseStatus, contentType: String, body: [UInt8], keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.count))
        headers.add(name: "cache-control", value: "no-store")
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if keepAlive {
            armDeadline(context: context)
        } else {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("local API connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// Bound to its connection's event loop; tasks reach it through `NIOLoopBound`.
@available(*, unavailable)
extension APIHandler: Sendable {}
