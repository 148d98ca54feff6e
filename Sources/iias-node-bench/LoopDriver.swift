import Foundation
import IIASAPI
import Histogram
import IIASModel
import IIASNode
import IIASTestSupport
import NIOCore
import NIOHTTP1
import NIOPosix

/// Every node case driven from a single event loop, the way a small compiled client would
/// drive it (NATS's side of the table is a C client): `inflight` keep-alive request
/// connections and one event stream, all on that loop. A notification is timed from just
/// before its request is written to the reading of its last delivery line, and the line
/// that completes it sends the next in the same loop turn — one request each, or (`batch`)
/// one `POST /v1/notifications/batch` for every slot that a read of the event stream
/// freed, as a client library that buffers its publishes does. A client that hands every
/// line to a task and every request back to a loop would spend its own CPU and thread
/// wake-ups inside each figure: on two cores, the async client used before took a fifth of
/// the machine at 64 in flight.
final class LoopDriver: @unchecked Sendable {
    /// One of the `inflight` notifications under way.
    private struct Slot {
        var current: UUID?
        var started: UInt64 = 0
        var answered = 0
    }

    private let loop: EventLoop
    private let recipients: [String]
    private let count: Int
    private let batch: Bool
    private let drafts: DraftTemplate
    private let done: EventLoopPromise<Void>
    // All below: touched on `loop` only.
    private var slots: [Slot]
    private var connections: [Channel] = []
    /// Connections without a request waiting for its answer.
    private var idle: [Int] = []
    /// The slots whose notifications a connection's request carries, in order.
    private var carried: [[Int]] = []
    /// Slots free to take the next notification (written at the next flush).
    private var free: [Int] = []
    private var slotOf: [UUID: Int] = [:]
    private var early: [UUID: Int] = [:]
    private var sent = 0
    private var completed = 0
    private var latencies = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    private var receiptEntries: Set<UInt64> = []
    private var deliveries = 0
    private var requests = 0
    private var finished = false

    private init(loop: EventLoop, recipients: [String], count: Int, inflight: Int, batch: Bool) {
        self.loop = loop
        self.recipients = recipients
        self.count = count
        self.batch = batch
        slots = Array(repeating: Slot(), count: max(1, inflight))
        drafts = DraftTemplate(recipients: recipients)
        done = loop.makePromise()
    }

    /// Submits `count` notifications to `recipients`, `inflight` at a time, through the
    /// node's socket; what the histogram and the receipt entries say once every one is delivered.
    static func run(socketPath: String, recipients: [String], count: Int, inflight: Int, batch: Bool = false) async throws -> Result {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let driver = LoopDriver(loop: loop, recipients: recipients, count: count, inflight: inflight, batch: batch)
        let subscribed = loop.makePromise(of: Void.self)
        let events = try await connect(socketPath, loop: loop, EventStreamReader(driver: driver, subscribed: subscribed))
        defer { events.close(promise: nil) }
        try await subscribed.futureResult.get()
        var channels: [Channel] = []
        defer { for channel in channels { channel.close(promise: nil) } }
        for connection in driver.slots.indices {
            channels.append(try await connect(socketPath, loop: loop, SubmissionReader(driver: driver, connection: connection)))
        }
        let start = DispatchTime.now().uptimeNanoseconds
        // A node that stops delivering ends the run with an error instead of hanging it.
        var seen = -1
        let watchdog = loop.scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(60)) { _ in
            if driver.completed == seen { driver.finish("no notification delivered for 60 s (\(seen) of \(count) done)") }
            seen = driver.completed
        }
        defer { watchdog.cancel() }
        loop.execute {
            driver.connections = channels
            driver.idle = Array(channels.indices.reversed())
            driver.carried = Array(repeating: [], count: channels.count)
            driver.free = Array(driver.slots.indices)
            driver.flush()
        }
        try await driver.done.futureResult.get()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return try await loop.submit {
            func percentile(_ p: Double) -> Double { Double(driver.latencies.valueAtPercentile(p * 100)) / 1000 }
            return Result(recipients: recipients.count, inflight: driver.slots.count, count: count, seconds: seconds,
                          perSecond: Double(count) / seconds,
                          p50Milliseconds: percentile(0.5), p99Milliseconds: percentile(0.99), p999Milliseconds: percentile(0.999),
                          receiptsPerEntry: Double(driver.deliveries) / Double(max(1, driver.receiptEntries.count)),
                          batched: batch ? Double(count) / Double(max(1, driver.requests)) : nil)
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

    /// Writes the free slots' next notifications: one request each, or one batch for all
    /// of them on an idle connection (the rest wait for the next flush).
    fileprivate func flush() {
        while !free.isEmpty, sent < count, let connection = idle.popLast() {
            let taken = batch ? Array(free.prefix(count - sent)) : [free[0]]
            free.removeFirst(taken.count)
            var body: [UInt8] = []
            for slot in taken {
                body += drafts.draft(number: sent)
                if batch { body.append(0x0A) }
                sent += 1
                slots[slot] = Slot(current: nil, started: DispatchTime.now().uptimeNanoseconds, answered: 0)
            }
            carried[connection] = taken
            requests += 1
            request(connections[connection], .POST, batch ? "/v1/notifications/batch" : "/v1/notifications", body: body)
        }
        if completed == count { finish(nil) }
    }

    /// The node answered a connection's request: each carried slot's id, and the
    /// deliveries already seen for it.
    fileprivate func submitted(_ submissions: [Submission], connection: Int) {
        let taken = carried[connection]
        guard submissions.count == taken.count else {
            return finish("\(taken.count) notifications submitted, \(submissions.count) answered")
        }
        carried[connection] = []
        idle.append(connection)
        for (slot, submission) in zip(taken, submissions) {
            slots[slot].current = submission.id
            slots[slot].answered = early.removeValue(forKey: submission.id) ?? 0
            slotOf[submission.id] = slot
            finishIfDone(slot)
        }
        flush()
    }

    /// A delivery line: its envelope delivered to one recipient, logged by that receipt entry.
    fileprivate func delivered(_ id: UUID, receiptEntry: UInt64?) {
        if let receiptEntry { receiptEntries.insert(receiptEntry) }
        deliveries += 1
        guard let slot = slotOf[id] else { early[id, default: 0] += 1; return }
        slots[slot].answered += 1
        finishIfDone(slot)
    }

    private func finishIfDone(_ slot: Int) {
        guard let id = slots[slot].current, slots[slot].answered >= recipients.count else { return }
        _ = latencies.record((DispatchTime.now().uptimeNanoseconds - slots[slot].started) / 1000)
        slotOf[id] = nil
        slots[slot].current = nil
        completed += 1
        free.append(slot)
    }

    /// Ends the run, once: with the error that stopped it, or none when every notification is delivered.
    fileprivate func finish(_ failure: String?) {
        guard !finished else { return }
        finished = true
        if let failure { done.fail(LocalAPIClient.Failure.malformedAnswer(failure)) } else { done.succeed() }
    }

    /// Asks for the lines that complete a delivery only: the "queued" line of every
    /// submission is neither written by the node nor read here.
    fileprivate func subscribe(on channel: Channel) {
        request(channel, .GET, "/v1/events" + EventFilter(states: [.delivered]).query, body: nil)
    }
}

/// Reads `GET /v1/events`: NDJSON lines, split wherever the chunks fall.
private final class EventStreamReader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let driver: LoopDriver
    let subscribed: EventLoopPromise<Void>
    var pending: [UInt8] = []
    var heard = false

    init(driver: LoopDriver, subscribed: EventLoopPromise<Void>) {
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
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                if let event = EventLine(fastParsing: pending[start..<newline]), event.type == "delivery", let id = event.id,
                   let recipient = event.recipient, recipient.state == .delivered {
                    driver.delivered(id, receiptEntry: recipient.receiptLogIndex)
                }
                start = newline + 1
            }
            pending.removeSubrange(..<start)
            // Every slot this read freed goes out now: one request each, or one batch.
            driver.flush()
        case .end:
            driver.finish("the event stream ended")
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !heard { subscribed.fail(LocalAPIClient.Failure.unreachable("the event stream closed")) }
        driver.finish("the event stream closed")
    }
}

/// Reads the answers to `POST /v1/notifications` (one submission) and `POST
/// /v1/notifications/batch` (a list of them) on one keep-alive connection.
private final class SubmissionReader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let driver: LoopDriver
    let connection: Int
    var status: HTTPResponseStatus = .ok
    var body: [UInt8] = []

    init(driver: LoopDriver, connection: Int) {
        self.driver = driver
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = head.status; body = []
        case .body(let buffer): body += buffer.readableBytesView
        case .end:
            let submissions = body.first == UInt8(ascii: "[")
                ? try? APIJSON.decoder().decode([Submission].self, from: Data(body))
                : Submission(fastParsing: body).map { [$0] }
            guard status == .created, let submissions else {
                driver.finish("submission answered \(status): \(String(decoding: body.prefix(300), as: UTF8.self))")
                return
            }
            driver.submitted(submissions, connection: connection)
        }
    }

    func channelInactive(context: ChannelHandlerContext) { driver.finish("the request connection closed") }
}

/// The ~1 KiB draft written once, with the place of its number marked: each notification
/// is a copy with its number written in (subject "Bench 00000042"), so the client spends
/// its share of the two cores on the node's answers rather than on building JSON.
struct DraftTemplate {
    private let bytes: [UInt8]
    private let places: [Range<Int>]
    private static let mark = "########"

    init(recipients: [String]) {
        let bytes = LocalCluster.draftJSON(to: recipients, subject: "Bench " + Self.mark, priority: "urgent",
                                           category: "organized-crime", summaryBytes: 900)
        let mark = Array(Self.mark.utf8)
        self.bytes = bytes
        places = bytes.indices.filter { bytes[$0...].starts(with: mark) }.map { $0..<($0 + mark.count) }
        precondition(!places.isEmpty, "the draft lost its subject")
    }

    func draft(number: Int) -> [UInt8] {
        var draft = bytes
        var digits = Array(String(number).utf8)
        digits = Array(repeating: UInt8(ascii: "0"), count: max(0, Self.mark.count - digits.count)) + digits.suffix(Self.mark.count)
        for place in places { draft.replaceSubrange(place, with: digits) }
        return draft
    }
}
