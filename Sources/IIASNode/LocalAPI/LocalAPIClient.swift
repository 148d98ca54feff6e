import Foundation
import IIASModel
import NIOCore
import NIOHTTP1
import NIOPosix

/// The local API from the other side: what the CLI and the tests use to talk to a node
/// over its Unix socket.
public struct LocalAPIClient: Sendable {
    public let socketPath: String
    public let timeout: TimeAmount

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
            case .unreachable: "is `iias node run` running, is the socket path right (--socket or IIAS_SOCKET), and is your user in the socket's group?"
            case .refused(_, let body): body.hint
            case .malformedAnswer: nil
            }
        }
    }

    // MARK: - Routes

    public func submit(_ draft: [String: Any]) async throws -> Submission {
        try await submit(json: Array(try JSONSerialization.data(withJSONObject: draft)))
    }

    /// The same with the draft already written as JSON: what scripts and load generators hold.
    public func submit(json body: [UInt8]) async throws -> Submission {
        try await call(.POST, "/v1/notifications", body: body)
    }

    public func inbox(_ filter: InboxFilter = InboxFilter()) async throws -> [InboxItem] {
        var query: [String] = []
        if let category = filter.category { query.append("category=\(category.rawValue)") }
        if let priority = filter.priority { query.append("priority=\(priority.rawValue)") }
        if let sender = filter.sender { query.append("sender=\(sender.rawValue)") }
        if let unread = filter.unread { query.append("unread=\(unread)") }
        if let since = filter.since { query.append("since=\(Timestamp.formatWithMilliseconds(since))") }
        if let limit = filter.limit { query.append("limit=\(limit)") }
        return try await call(.GET, "/v1/inbox" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }

    public func read(_ id: UUID) async throws -> ReadResult { try await call(.GET, "/v1/inbox/\(id.uuidString.lowercased())") }
    public func acknowledge(_ id: UUID) async throws -> InboxItem { try await call(.POST, "/v1/inbox/\(id.uuidString.lowercased())/ack") }
    public func reply(to id: UUID, _ draft: [String: Any]) async throws -> Submission {
        try await call(.POST, "/v1/inbox/\(id.uuidString.lowercased())/reply", body: Array(try JSONSerialization.data(withJSONObject: draft)))
    }
    public func outbox(limit: Int? = nil) async throws -> [OutboxItem] { try await call(.GET, "/v1/outbox" + (limit.map { "?limit=\($0)" } ?? "")) }
    public func delivery(of id: UUID) async throws -> OutboxItem { try await call(.GET, "/v1/outbox/\(id.uuidString.lowercased())") }
    public func peers() async throws -> [PeerStatus] { try await call(.GET, "/v1/peers") }
    public func status() async throws -> NodeStatus { try await call(.GET, "/v1/status") }
    public func treeHead() async throws -> TreeHead { try await call(.GET, "/v1/tree-head") }

    /// Follows `GET /v1/events` until the node closes it or the task is cancelled; heartbeats are dropped.
    public func events() async throws -> AsyncThrowingStream<EventLine, any Error> {
        let (channel, parts) = try await connect()
        try await send(channel, .GET, "/v1/events", body: nil, keepAlive: false)
        let (answered, answer) = AsyncStream.makeStream(of: Void.self)
        let stream = AsyncThrowingStream<EventLine, any Error> { continuation in
            let task = Task {
                defer { answer.finish() }
                var pending: [UInt8] = []
                var status = 0
                var errorBody: [UInt8] = []
                for await part in parts {
                    switch part {
                    case .head(let head):
                        status = Int(head.status.code)
                        answer.finish()
                    case .body(let buffer):
                        if status != 200 { errorBody += buffer.readableBytesView; continue }
                        pending += buffer.readableBytesView
                        while let newline = pending.firstIndex(of: 0x0A) {
                            let line = Array(pending[..<newline])
                            pending.removeSubrange(...newline)
                            guard let event = try? APIJSON.decoder().decode(EventLine.self, from: Data(line)) else { continue }
                            if event.type != "heartbeat" { continuation.yield(event) }
                        }
                    case .end:
                        break
                    }
                }
                if status != 200 {
                    continuation.finish(throwing: Self.failure(status: status, body: errorBody))
                } else {
                    continuation.finish()
                }
            }
            continuation.onTermination = { _ in task.cancel(); channel.close(promise: nil) }
        }
        // The node answers once it has registered the subscription: from the head on, no
        // event is missed, so callers need not wait and hope.
        for await _ in answered {}
        return stream
    }

    // MARK: - Transport

    /// One request on a fresh connection; decodes a 2xx body as `Answer`, turns anything else into `Failure.refused`.
    public func call<Answer: Decodable>(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws -> Answer {
        let (status, bytes) = try await raw(method, path, body: body)
        guard (200..<300).contains(status) else { throw Self.failure(status: status, body: bytes) }
        do { return try APIJSON.decoder().decode(Answer.self, from: Data(bytes)) } catch {
            throw Failure.malformedAnswer("\(error)")
        }
    }

    /// Status and body of one request, for tests that look at the bytes.
    public func raw(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws -> (Int, [UInt8]) {
        let (channel, parts) = try await connect()
        defer { channel.close(promise: nil) }
        try await send(channel, method, path, body: body, keepAlive: false)
        let collect = Task { () -> (Int, [UInt8])? in
            var status = 0
            var bytes: [UInt8] = []
            for await part in parts {
                switch part {
                case .head(let head): status = Int(head.status.code)
                case .body(let buffer): bytes += buffer.readableBytesView
                case .end: return (status, bytes)
                }
            }
            return nil
        }
        let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        let answer = await collect.value
        deadline.cancel()
        guard let (status, bytes) = answer else { throw Failure.unreachable("the node at \(socketPath) closed the connection without a complete answer") }
        return (status, bytes)
    }

    static func failure(status: Int, body: [UInt8]) -> Failure {
        if let decoded = try? APIJSON.decoder().decode(APIErrorBody.self, from: Data(body)) {
            return .refused(status: status, body: decoded)
        }
        return .refused(status: status, body: APIErrorBody(error: String(decoding: body.prefix(300), as: UTF8.self), problems: nil, hint: nil))
    }

    private func connect() async throws -> (Channel, AsyncStream<HTTPClientResponsePart>) {
        let (parts, continuation) = AsyncStream.makeStream(of: HTTPClientResponsePart.self)
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.pipeline.addHTTPClientHandlers().flatMap {
                        channel.pipeline.addHandler(ResponseCollector(continuation: continuation))
                    }
                }
                .connect(unixDomainSocketPath: socketPath).get()
            return (channel, parts)
        } catch {
            throw Failure.unreachable("cannot reach the node at \(socketPath): \(error)")
        }
    }

    private func send(_ channel: Channel, _ method: HTTPMethod, _ path: String, body: [UInt8]?, keepAlive: Bool) async throws {
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
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
    }
}

/// Hands response parts to the caller's stream.
final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let continuation: AsyncStream<HTTPClientResponsePart>.Continuation
    init(continuation: AsyncStream<HTTPClientResponsePart>.Continuation) { self.continuation = continuation }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        continuation.yield(part)
        if case .end = part { continuation.finish() }
    }
    func channelInactive(context: ChannelHandlerContext) { continuation.finish(); context.fireChannelInactive() }
    func errorCaught(context: ChannelHandlerContext, error: Error) { continuation.finish(); context.close(promise: nil) }
}
