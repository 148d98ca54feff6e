import Foundation
import Histogram
import IIASModel
import IIASNode
import IIASTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix

/// The one-in-flight case driven from a single event loop, the way a small compiled client
/// would drive it: the request connection and the event stream are both on that loop, the
/// delivery line that completes one notification sends the next in the same loop turn, and
/// each latency is timed on that thread from just before the request is written to the
/// reading of the last delivery line. A client that hands every line to a task and every
/// request back to a loop would add its own thread wake-ups to each figure.
final class FlashDriver: @unchecked Sendable {
    private let loop: EventLoop
    private let recipients: [String]
    private let count: Int
    private let done: EventLoopPromise<Void>
    private var requests: Channel?
    // All below: touched on `loop` only.
    private var sent = 0
    private var started: UInt64 = 0
    private var current: UUID?
    private var answered = 0
    private var early: [UUID: Int] = [:]
    private var latencies = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    private var receiptEntries: Set<UInt64> = []
    private var deliveries = 0
    private var finished = false

    private init(loop: EventLoop, recipients: [String], count: Int) {
        self.loop = loop
        self.recipients = recipients
        self.count = count
        done = loop.makePromise()
    }

    /// Submits `count` notifications to `recipients` one at a time through the node's
    /// socket; what the histogram and the receipt entries say once every one is delivered.
    static func run(socketPath: String, recipients: [String], count: Int) async throws -> Result {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let driver = FlashDriver(loop: loop, recipients: recipients, count: count)
        let subscribed = loop.makePromise(of: Void.self)
        let events = try await connect(socketPath, loop: loop, EventStreamReader(driver: driver, subscribed: subscribed))
        defer { events.close(promise: nil) }
        try await subscribed.futureResult.get()
        let requests = try await connect(socketPath, loop: loop, SubmissionReader(driver: driver))
        defer { requests.close(promise: nil) }
        let start = DispatchTime.now().uptimeNanoseconds
        // A node that stops delivering ends the run with an error instead of hanging it.
        var seen = -1
        let watchdog = loop.scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(60)) { _ in
            if driver.sent == seen { driver.finish("no notification delivered for 60 s (\(seen) of \(count) sent)") }
            seen = driver.sent
        }
        defer { watchdog.cancel() }
        loop.execute {
            driver.requests = requests
            driver.submitNext()
        }
        try await driver.done.futureResult.get()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return try await loop.submit {
            func percentile(_ p: Double) -> Double { Double(driver.latencies.valueAtPercentile(p * 100)) / 1000 }
            return Result(recipients: recipients.count, inflight: 1, count: count, seconds: seconds, perSecond: Double(count) / seconds,
                          p50Milliseconds: percentile(0.5), p99Milliseconds: percentile(0.99), p999Milliseconds: percentile(0.999),
                          receiptsPerEntry: Double(driver.deliveries) / Double(max(1, driver.receiptEntries.count)))
        }.get()
    }

    private static func connect(_ path: String, loop: EventLoop, _ handler: some ChannelInboundHandler & Sendable) async throws -> Channel {
        try await ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.pipeline.addHTTPClientHandlers().flatMap { channel.pipeline.addHandler(handler) }
            }
            .connect(unixDomainSocketPath: path).get()
    }

    private func request(_ channel: Channel, _ method: HTTPMethod, _ uri: String, body: [UInt8]?) {
        _ = LocalAPIClient.writeRequest(channel, method, uri, body: body, keepAlive: true)
    }

    private func submitNext() {
        guard let requests else { return }
        guard sent < count else { finish(nil); return }
        let draft = LocalCluster.draftJSON(to: recipients, subject: "Bench \(sent)", priority: "urgent",
                                           category: "organized-crime", summaryBytes: 900)
        sent += 1
        current = nil
        answered = 0
        started = DispatchTime.now().uptimeNanoseconds
        request(requests, .POST, "/v1/notifications", body: draft)
    }

    /// The node answered the submission: its id, and the deliveries already seen for it.
    fileprivate func submitted(_ id: UUID) {
        current = id
        answered = early.removeValue(forKey: id) ?? 0
        finishIfDone()
    }

    /// A delivery line: its envelope delivered to one recipient, logged by that receipt entry.
    fileprivate func delivered(_ id: UUID, receiptEntry: UInt64?) {
        if let receiptEntry { receiptEntries.insert(receiptEntry) }
        deliveries += 1
        guard id == current else { early[id, default: 0] += 1; return }
        answered += 1
        finishIfDone()
    }

    private func finishIfDone() {
        guard current != nil, answered >= recipients.count else { return }
        _ = latencies.record((DispatchTime.now().uptimeNanoseconds - started) / 1000)
        submitNext()
    }

    /// Ends the run, once: with the error that stopped it, or none when every notification is delivered.
    fileprivate func finish(_ failure: String?) {
        guard !finished else { return }
        finished = true
        if let failure { done.fail(LocalAPIClient.Failure.malformedAnswer(failure)) } else { done.succeed() }
    }

    fileprivate func subscribe(on channel: Channel) { request(channel, .GET, "/v1/events", body: nil) }
}

/// Reads `GET /v1/events`: NDJSON lines, split wherever the chunks fall.
private final class EventStreamReader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let driver: FlashDriver
    let subscribed: EventLoopPromise<Void>
    var pending: [UInt8] = []
    var heard = false

    init(driver: FlashDriver, subscribed: EventLoopPromise<Void>) {
        self.driver = driver
        self.subscribed = subscribed
    }

    func channelActive(context: ChannelHandlerContext) {
        driver.subscribe(on: context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // The node sends the head once the subscription is registered.
            heard = true
            if head.status == .ok { subscribed.succeed() } else { subscribed.fail(LocalAPIClient.Failure.malformedAnswer("events: \(head.status)")) }
        case .body(let buffer):
            pending += buffer.readableBytesView
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = pending[..<newline]
                if let event = EventLine(fastParsing: line), event.type == "delivery", let id = event.id,
                   let recipient = event.recipient, recipient.state == .delivered {
                    driver.delivered(id, receiptEntry: recipient.receiptLogIndex)
                }
                pending.removeSubrange(...newline)
            }
        case .end:
            driver.finish("the event stream ended")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !heard { subscribed.fail(LocalAPIClient.Failure.unreachable("the event stream closed")) }
        driver.finish("the event stream closed")
    }
}

/// Reads the answers to `POST /v1/notifications`, one per request on a keep-alive connection.
private final class SubmissionReader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let driver: FlashDriver
    var status: HTTPResponseStatus = .ok
    var body: [UInt8] = []

    init(driver: FlashDriver) { self.driver = driver }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = head.status; body = []
        case .body(let buffer): body += buffer.readableBytesView
        case .end:
            guard status == .created, let submission = Submission(fastParsing: body) else {
                driver.finish("submission answered \(status): \(String(decoding: body.prefix(300), as: UTF8.self))")
                return
            }
            driver.submitted(submission.id)
        }
    }

    func channelInactive(context: ChannelHandlerContext) { driver.finish("the request connection closed") }
}
