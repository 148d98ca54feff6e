import Foundation
import IIASModel
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The local API from the other side: what the CLI and the tests use to talk to a node
/// over its Unix socket.
public struct LocalAPIClient: Sendable {
    public let socketPath: String
    public let timeout: TimeAmount
    /// Keep-alive connections between calls, shared by copies of this client: a request on
    /// one costs neither side a connect, an accept or a new pipeline.
    private let idle = APIConnectionPool()

    public init(socketPath: String, timeout: TimeAmount = .seconds(60)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// Why a call failed: the node could not be reached, or it answered with an error.
    public enum Failure: Error, Sendable, CustomStringConvertible {
        case unreachable(String)
        case refused(status: Int, body: APIErrorBody)
        case malformedAnswer(String)

        public var description: String {
            switch self {
            case .unreachable(let why): why
            case .refused(let status, let body):
                "the node refused (\(status)): \(body.error)"
                    + (body.problems ?? []).map { "\n  \($0.path.isEmpty ? "(document)" : $0.path): \($0.message)" }.joined()
            case .malformedAnswer(let why): "the node's answer was not understood: \(why)"
            }
        }

        public var hint: String? {
            switch self {
            case .unreachable: "is `iias node run` running, is the socket path right (--socket or IIAS_SOCKET), and is your user in the socket's group? (A node with limits.maxAPIConnections open, or limits.maxAPIConnectionsPerUser of your uid, closes new ones at once.)"
            case .refused(_, let body): body.hint
            case .malformedAnswer: nil
            }
        }
    }

    // MARK: - Routes

    /// `weakenHandling`: a reply, update or cancellation goes with the draft's handling even
    /// where it is weaker than what it names (logged); otherwise the node raises it.
    public func submit(_ draft: [String: Any], weakenHandling: Bool = false) async throws -> Submission {
        let body = Array(try JSONSerialization.data(withJSONObject: draft))
        guard weakenHandling else { return try await submit(json: body) }
        return try await call(.POST, "/v1/notifications?weakenHandling=true", body: body, fast: Submission.init(fastParsing:))
    }

    /// The same with the draft already written as JSON: what scripts and load generators hold.
    public func submit(json body: [UInt8]) async throws -> Submission {
        try await call(.POST, "/v1/notifications", body: body, fast: Submission.init(fastParsing:))
    }

    /// Several drafts, each already written as JSON, as one batch (`POST
    /// /v1/notifications/batch`): sealed, logged with one fdatasync and queued in this
    /// order, or none of them.
    public func submit(batch drafts: [[UInt8]]) async throws -> [Submission] {
        try await call(.POST, "/v1/notifications/batch", body: Array(drafts.map { $0 + [0x0A] }.joined()))
    }

    /// The drafts of a batch body (or file), each with its line number (from 1): one a
    /// line, blank lines skipped — how the node reads `POST /v1/notifications/batch`, and
    /// how `iias send --batch` finds a file with none.
    public static func batchDrafts(_ bytes: [UInt8]) -> [(line: Int, draft: ArraySlice<UInt8>)] {
        bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated()
            .filter { _, text in text.contains { ![0x20, 0x09, 0x0D].contains($0) } }
            .map { (line: $0.offset + 1, draft: $0.element) }
    }

    public func inbox(_ filter: InboxFilter = InboxFilter()) async throws -> [InboxItem] {
        let query = filter.queryText
        return try await call(.GET, "/v1/inbox" + (query.isEmpty ? "" : "?" + query))
    }

    /// `sender`: which center's notification `id` is; needed only when several used the id (409 otherwise).
    public func read(_ id: UUID, from sender: CenterID? = nil) async throws -> ReadResult { try await call(.GET, Self.inboxPath(id, sender)) }
    public func acknowledge(_ id: UUID, from sender: CenterID? = nil) async throws -> InboxItem {
        try await call(.POST, Self.inboxPath(id, sender, "/ack"))
    }
    /// `weakenHandling`: send the draft's handling even where it is weaker than the
    /// original's (logged as the operator's decision); otherwise the node raises it.
    public func reply(to id: UUID, from sender: CenterID? = nil, _ draft: [String: Any], weakenHandling: Bool = false) async throws -> Submission {
        var path = Self.inboxPath(id, sender, "/reply")
        if weakenHandling { path += (sender == nil ? "?" : "&") + "weakenHandling=true" }
        return try await call(.POST, path, body: Array(try JSONSerialization.data(withJSONObject: draft)))
    }
    /// `/v1/inbox/ID[/action][?sender=AZ]`.
    static func inboxPath(_ id: UUID, _ sender: CenterID?, _ action: String = "") -> String {
        "/v1/inbox/\(id.uuidString.lowercased())\(action)" + (sender.map { "?sender=\($0.rawValue)" } ?? "")
    }
    /// The conversation of `sender`'s notification `id` (`GET /v1/threads/{id}`), oldest first.
    public func thread(_ id: UUID, from sender: CenterID? = nil) async throws -> [ThreadItem] {
        try await call(.GET, "/v1/threads/\(id.uuidString.lowercased())" + (sender.map { "?sender=\($0.rawValue)" } ?? ""))
    }
    public func outbox(limit: Int? = nil) async throws -> [OutboxItem] { try await call(.GET, "/v1/outbox" + (limit.map { "?limit=\($0)" } ?? "")) }
    public func delivery(of id: UUID) async throws -> OutboxItem { try await call(.GET, "/v1/outbox/\(id.uuidString.lowercased())") }
    public func requests() async throws -> [RequestStatus] { try await call(.GET, "/v1/requests") }
    public func peers() async throws -> [PeerStatus] { try await call(.GET, "/v1/peers") }
    public func alarms() async throws -> [HistoryAlarm] { try await call(.GET, "/v1/alarms") }
    /// Sets the history alarm `key` aside, saying in `note` what was done about it.
    public func acknowledgeAlarm(_ key: String, note: String) async throws -> HistoryAlarm {
        try await call(.POST, "/v1/alarms/ack", body: Array(try APIJSON.encoder().encode(AlarmAcknowledgementRequest(key: key, note: note))))
    }
    public func status() async throws -> NodeStatus { try await call(.GET, "/v1/status") }
    public func treeHead() async throws -> TreeHead { try await call(.GET, "/v1/tree-head") }

    /// Follows `GET /v1/events` until the node closes it or the task is cancelled; heartbeats are dropped.
    /// Lines are decoded on the connection's event loop and handed straight to the stream.
    public func events(_ filter: EventFilter = EventFilter()) async throws -> AsyncThrowingStream<EventLine, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: EventLine.self)
        let (answered, answer) = AsyncStream.makeStream(of: Void.self)
        let channel = try await open { EventLineReader(events: continuation, answered: answer) }
        continuation.onTermination = { _ in channel.close(promise: nil) }
        try await send(channel, .GET, "/v1/events" + filter.query, body: nil, keepAlive: false)
        // The node answers once it has registered the subscription: from the head on, no
        // event is missed, so callers need not wait and hope.
        for await _ in answered {}
        return stream
    }

    // MARK: - Transport

    /// One request on a fresh connection; decodes a 2xx body as `Answer`, turns anything else into `Failure.refused`.
    /// `fast`: a reader for the answer's usual form, tried before `Codable`.
    public func call<Answer: Decodable>(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil,
                                        fast: (([UInt8]) -> Answer?)? = nil) async throws -> Answer {
        let (status, bytes) = try await raw(method, path, body: body)
        guard (200..<300).contains(status) else { throw Self.failure(status: status, body: bytes) }
        if let fast, let answer = fast(bytes) { return answer }
        do { return try APIJSON.decoder().decode(Answer.self, from: Data(bytes)) } catch {
            throw Failure.malformedAnswer("\(error)")
        }
    }

    /// Status and body of one request, for tests that look at the bytes. Runs on an idle
    /// keep-alive connection when there is one; a request that could not even be written
    /// on such a connection (the node closed it meanwhile) is sent again on a fresh one.
    public func raw(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws -> (Int, [UInt8]) {
        if let reused = idle.take() {
            do { return try await exchange(on: reused, method, path, body: body) } catch ExchangeFailure.notSent {}
        }
        do { return try await exchange(on: try await connect(), method, path, body: body) } catch ExchangeFailure.notSent {
            throw Failure.unreachable("the request could not be written to the node at \(socketPath) (the connection closed)")
        }
    }

    /// Why an exchange failed before the node could have seen the request.
    private enum ExchangeFailure: Error { case notSent }

    private func exchange(on connection: APIConnection, _ method: HTTPMethod, _ path: String, body: [UInt8]?) async throws -> (Int, [UInt8]) {
        let channel = connection.channel
        let parts = connection.collector.begin()
        do { try await send(channel, method, path, body: body, keepAlive: true) } catch {
            channel.close(promise: nil)
            throw ExchangeFailure.notSent
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        var status = 0, keepAlive = false, complete = false
        var bytes: [UInt8] = []
        for await part in parts {
            switch part {
            case .head(let head): status = Int(head.status.code); keepAlive = head.isKeepAlive
            case .body(let buffer): bytes += buffer.readableBytesView
            case .end: complete = true
            }
        }
        deadline.cancel()
        if complete && keepAlive && channel.isActive { idle.give(connection) } else { channel.close(promise: nil) }
        guard complete else { throw Failure.unreachable("the node at \(socketPath) closed the connection without a complete answer") }
        return (status, bytes)
    }

    static func failure(status: Int, body: [UInt8]) -> Failure {
        if let decoded = try? APIJSON.decoder().decode(APIErrorBody.self, from: Data(body)) {
            return .refused(status: status, body: decoded)
        }
        return .refused(status: status, body: APIErrorBody(error: String(decoding: body.prefix(300), as: UTF8.self), problems: nil, hint: nil))
    }

    private func connect() async throws -> APIConnection {
        let collector = ResponseCollector()
        return APIConnection(channel: try await open { collector }, collector: collector)
    }

    /// A new connection to the node's socket whose answers go to `handler`.
    /// A connection to the node whose answers go to the handler `makeHandler` makes on its event loop.
    private func open(_ makeHandler: @escaping @Sendable () -> some ChannelInboundHandler) async throws -> Channel {
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.pipeline.addHTTPClientHandlers().flatMapThrowing { try channel.pipeline.syncOperations.addHandler(makeHandler()) }
                }
                .connect(unixDomainSocketPath: socketPath).get()
        } catch {
            throw Failure.unreachable("cannot reach the node at \(socketPath): \(error)")
        }
    }

    private func send(_ channel: Channel, _ method: HTTPMethod, _ path: String, body: [UInt8]?, keepAlive: Bool) async throws {
        try await Self.writeRequest(channel, method, path, body: body, keepAlive: keepAlive).get()
    }

    /// Writes one request on a connection with the HTTP client handlers (from any thread);
    /// the future of its last part. What this client and load generators send.
    package static func writeRequest(_ channel: Channel, _ method: HTTPMethod, _ path: String, body: [UInt8]?,
                                     keepAlive: Bool) -> EventLoopFuture<Void> {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: "localhost")
        headers.add(name: "user-agent", value: "iias/\(NodeVersion.current)")
        if let body {
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.count))
        }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(bytes: body))), promise: nil) }
        return channel.writeAndFlush(HTTPClientRequestPart.end(nil))
    }
}

/// One connection to the node's socket and the handler that hands its answers on.
struct APIConnection: Sendable {
    let channel: Channel
    let collector: ResponseCollector
}

/// Idle keep-alive connections, newest first out; one older than `lifetime` is closed
/// rather than reused (the node closes connections idle for a minute).
final class APIConnectionPool: Sendable {
    private let connections = Mutex<[(connection: APIConnection, since: ContinuousClock.Instant)]>([])
    static let lifetime = Duration.seconds(20)
    static let maximumIdle = 64

    func take() -> APIConnection? {
        let now = ContinuousClock.now
        let (fresh, stale) = connections.withLock { list -> (APIConnection?, [APIConnection]) in
            var stale: [APIConnection] = []
            while let last = list.popLast() {
                if now - last.since < Self.lifetime && last.connection.channel.isActive { return (last.connection, stale) }
                stale.append(last.connection)
            }
            return (nil, stale)
        }
        for connection in stale { connection.channel.close(promise: nil) }
        return fresh
    }

    /// A client that goes away closes the connections it kept: each would otherwise hold
    /// a descriptor here and one of the node's `limits.maxAPIConnections` places until the
    /// node's idle close, a minute later.
    deinit {
        for kept in connections.withLock({ $0 }) { kept.connection.channel.close(promise: nil) }
    }

    func give(_ connection: APIConnection) {
        let kept = connections.withLock { list in
            guard list.count < Self.maximumIdle else { return false }
            list.append((connection, ContinuousClock.now))
            return true
        }
        if !kept { connection.channel.close(promise: nil) }
    }
}

/// Hands the response parts of the request under way to its caller's stream (one
/// request at a time per connection).
final class ResponseCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart
    private let current = Mutex<AsyncStream<HTTPClientResponsePart>.Continuation?>(nil)

    /// The stream of the next response's parts; it ends with the response, or when the connection closes.
    func begin() -> AsyncStream<HTTPClientResponsePart> {
        let (parts, continuation) = AsyncStream.makeStream(of: HTTPClientResponsePart.self)
        current.withLock { $0 = continuation }
        return parts
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        let continuation = current.withLock { current in
            defer { if case .end = part { current = nil } }
            return current
        }
        continuation?.yield(part)
        if case .end = part { continuation?.finish() }
    }

    func channelInactive(context: ChannelHandlerContext) { finish(); context.fireChannelInactive() }
    func errorCaught(context: ChannelHandlerContext, error: Error) { finish(); context.close(promise: nil) }
    private func finish() { current.withLock { $0.take() }?.finish() }
}

/// Reads an event stream's answer on the connection's loop: NDJSON lines decoded and
/// yielded as they complete (heartbeats dropped), or the error answer as the stream's
/// failure. State is touched on that loop only.
final class EventLineReader: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let events: AsyncThrowingStream<EventLine, any Error>.Continuation
    private let answered: AsyncStream<Void>.Continuation
    private let decoder = APIJSON.decoder()
    private var status = 0
    private var pending: [UInt8] = []

    init(events: AsyncThrowingStream<EventLine, any Error>.Continuation, answered: AsyncStream<Void>.Continuation) {
        self.events = events
        self.answered = answered
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            if status == 200 { answered.finish() }
        case .body(let buffer):
            pending += buffer.readableBytesView
            guard status == 200 else { return }
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                if let event = EventLine(fastParsing: pending[start..<newline]) ?? (try? decoder.decode(EventLine.self, from: Data(pending[start..<newline]))),
                   event.type != "heartbeat" {
                    events.yield(event)
                }
                start = newline + 1
            }
            pending.removeSubrange(..<start)
        case .end:
            if status != 200 { events.finish(throwing: LocalAPIClient.failure(status: status, body: pending)) } else { events.finish() }
            answered.finish()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        events.finish()
        answered.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// Bound to its connection's event loop: the stream continuations are what cross threads.
@available(*, unavailable)
extension EventLineReader: Sendable {}
