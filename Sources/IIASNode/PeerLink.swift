import Foundation
import IIASAPI
import IIASModel
import IIASTransport
import Logging
import Metrics
import NIOCore
import NIOPosix
import Synchronization

/// What a link tells its node, and the only way it reaches it: the receipts it got (the
/// node verifies and logs them, and answers with the envelopes to stop sending) and its
/// status. The node commands links (`enqueue`, `settle`, `reconnect`, `stop`, …).
protocol PeerLinkDelegate: AnyObject, Sendable {
    /// Receipts from `peer`, as received; the envelopes the link stops sending (answered
    /// now or before), which the link settles itself on return: no task in between.
    func receiptsArrived(_ receipts: [[UInt8]], from peer: CenterID) async -> [UUID]
    /// The link connected, went down or backs off.
    func linkChanged(_ status: PeerStatus) async
    /// The peer's WITNESS_RESPONSE to our last WITNESS_REQUEST (`Node+Cosigning`).
    func witnessAnswered(_ body: [UInt8], from peer: CenterID) async
    /// The peer's RECEIPT_PROOF_ACK: it kept our proofs up to a log size (`Node+ReceiptProofs`).
    func receiptProofsAcknowledged(_ body: [UInt8], from peer: CenterID) async
}

/// The outbound side of one peer: one TLS connection at a time, reconnecting with
/// exponential backoff and jitter, sending our unreceipted envelopes in log order with at
/// most `window` in flight, and handing the receipts it gets back to its delegate. It owns
/// its wire state (queue, in flight, attempts, backoff: an `OutboundExchange`); the
/// node's ledger knows only what the log says. Envelopes in flight when a connection
/// drops go back to the front of the queue; the receiver deduplicates, so resending is
/// always safe.
actor PeerLink {
    let peer: NodeConfiguration.Peer
    let limits: NodeConfiguration.Limits
    private unowned let delegate: any PeerLinkDelegate
    private let logger: Logger
    /// Reads a logged envelope's bytes by log index (those not handed over at submission).
    private let readEnvelope: @Sendable (UInt64) -> [UInt8]?
    /// The TLS keys and trust for the next connection (replaced by `use(_:)` on a reload).
    private var crypto: NodeCrypto
    /// The wire state. Written only by the link; under a lock so that the node's views
    /// read an envelope's progress (`progress(of:)`) without a hop onto the link.
    private nonisolated let exchange: Mutex<OutboundExchange>
    private var channel: Channel?
    /// The current connection from the moment it is open (before the session is up), so
    /// that stopping can close it whatever state it is in.
    private var connection: Channel?
    private var lastError: String?
    private var lastConnected: Date?
    /// Ends a backoff early: the peer showed it is up (it connected to us).
    private let (wakeups, wakeSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    private var certificateDaysLeft: Int?
    private var stopped = false
    private var runner: Task<Void, Never>?
    private let depth: Metrics.Gauge
    private let retries: Metrics.Counter
    /// The attachments this link sends, when no envelope waits or in their turn.
    let attachments: AttachmentSender
    private var chunkTurns = ChunkTurns()
    private var turnWakeScheduled = false

    init(peer: NodeConfiguration.Peer, limits: NodeConfiguration.Limits, crypto: NodeCrypto, logger: Logger,
         delegate: any PeerLinkDelegate, readEnvelope: @escaping @Sendable (UInt64) -> [UInt8]?, attachments: AttachmentSender) {
        self.attachments = attachments
        self.peer = peer
        self.limits = limits
        self.crypto = crypto
        self.logger = logger
        self.delegate = delegate
        self.readEnvelope = readEnvelope
        exchange = Mutex(OutboundExchange(window: limits.window))
        depth = Metrics.Gauge(label: "iias_queue_depth", dimensions: [("peer", peer.center.rawValue)])
        retries = Metrics.Counter(label: "iias_retries_total", dimensions: [("peer", peer.center.rawValue)])
        attachments.wakeLink { [weak self] in self?.attachmentsWaiting() }
    }

    /// Where our envelope `id` stands on this link (nil: not waiting here), and when the
    /// link tries again if it is backing off; read without a hop onto the link.
    nonisolated func progress(of id: UUID) -> (progress: OutboundExchange.Progress, nextAttempt: Date?)? {
        exchange.withLock { exchange in exchange.progress(of: id).map { ($0, exchange.nextAttempt) } }
    }

    /// The TLS keys and trust for connections from now on (the node reloaded them).
    func use(_ crypto: NodeCrypto) { self.crypto = crypto }

    var queued: Int { exchange.withLock { $0.queued } }

    /// Sends a WITNESS_REQUEST on the current session; false when there is none.
    func sendWitnessRequest(_ body: [UInt8]) -> Bool {
        guard let channel else { return false }
        channel.writeAndFlush(Frame.witnessRequest(body), promise: nil)
        return true
    }

    /// Sends a RECEIPT_PROOF on the current session; false when there is none.
    func sendReceiptProofs(_ body: [UInt8]) -> Bool {
        guard let channel else { return false }
        channel.writeAndFlush(Frame.receiptProof(body), promise: nil)
        return true
    }

    /// Sends a history frame (0x24-0x27) on the current session; false when there is none.
    func sendHistory(_ frame: Frame) -> Bool {
        guard let channel else { return false }
        channel.writeAndFlush(frame, promise: nil)
        return true
    }

    /// `queued` as last recorded, readable without a hop onto the link: every submit checks it.
    nonisolated let backlog = Atomic<Int>(0)

    private func recordDepth(_ queued: Int) {
        depth.record(queued)
        backlog.store(queued, ordering: .relaxed)
    }

    var status: PeerStatus {
        let (state, queued, nextAttempt) = exchange.withLock { ($0.phase, $0.queued, $0.nextAttempt) }
        return PeerStatus(center: peer.center, address: peer.address.description, state: state, queued: queued,
                          lastConnected: lastConnected, lastError: lastError, certificateDaysLeft: certificateDaysLeft,
                          nextAttempt: state == .backingOff ? nextAttempt : nil)
    }

    nonisolated func start() { Task { await self.begin() } }

    private func begin() {
        guard runner == nil, !stopped else { return }
        runner = Task { await self.run() }
    }

    /// Stops reconnecting and closes the current connection, established or not; waits
    /// at most 5 s for the connection task to notice.
    func stop() async {
        stopped = true
        runner?.cancel()
        if let connection { try? await connection.close() }
        guard let runner else { return }
        let (first, signal) = AsyncStream.makeStream(of: Void.self)
        Task { await runner.value; signal.yield() }
        Task { try? await Task.sleep(for: .seconds(5)); signal.yield() }
        for await _ in first { break }
    }

    /// Closes the current connection (if any); the link then requeues what was in flight,
    /// backs off and connects again, as after any lost connection.
    func reconnect() async {
        try? await connection?.close()
    }

    /// The peer is up (it just connected to us): a link waiting out its backoff connects
    /// now, so what is queued for a peer that comes back leaves at once, whatever the
    /// backoff had grown to. Does nothing while connecting or connected.
    nonisolated func peerAppeared() { Task { await self.wakeIfBackingOff() } }

    private func wakeIfBackingOff() {
        if exchange.withLock({ $0.phase }) == .backingOff { wakeSignal.yield() }
    }

    /// Waits `seconds`, or less when `peerAppeared()` is called meanwhile.
    private func pause(_ seconds: Double) async {
        let wakeups = self.wakeups
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: .seconds(seconds)) }
            group.addTask { for await _ in wakeups { return } }
            await group.next()
            group.cancelAll()
        }
    }

    /// Adds envelopes to send (already logged, with their log indexes), in log order.
    nonisolated func enqueue(_ envelopes: [(id: UUID, index: UInt64)]) {
        handOver(envelopes.map { .init(id: $0.id, index: $0.index) })
    }

    /// Adds just-logged envelopes with their bytes, in order: sent as they are when their turn comes,
    /// without a read back from the log. Awaited by the submission: when the link is idle
    /// the caller's thread takes it over and writes the envelope to the connection at
    /// once — no task in between, so no thread to wake on the way to the wire.
    nonisolated func enqueue(_ envelopes: [(id: UUID, index: UInt64, bytes: [UInt8])]) async {
        if handedOver.add(envelopes.lazy.map { .init(id: $0.id, index: $0.index, bytes: $0.bytes) }) { await takeHandedOver() }
    }

    /// Envelopes handed over by the node and not yet in the queue, in the order it handed
    /// them over. A task per hand-over would not keep that order: two tasks may reach the
    /// actor either way round when a thread is descheduled between them. Whoever finds
    /// the list empty takes it over (a task, or an awaiting submission), and the list
    /// keeps the order whichever of them reaches the actor first.
    private let handedOver = HandOff<OutboundExchange.Envelope>()

    private nonisolated func handOver(_ items: [OutboundExchange.Envelope]) {
        // One task takes everything handed over until it runs, in order.
        if handedOver.add(items) { Task { await self.takeHandedOver() } }
    }

    private func takeHandedOver() {
        let items = handedOver.take()
        exchange.withLock { $0.enqueue(items) }
        pump()
    }

    /// Our envelopes on the wire to this peer and not answered yet (at most a window).
    nonisolated func inFlightIDs() -> [UUID] { exchange.withLock { $0.inFlight } }

    /// The envelopes are answered (their receipts, refusals or acknowledgements are
    /// logged): no more sending. Ids this link does not hold are ignored.
    nonisolated func settle(_ ids: [UUID]) { Task { await self.settled(ids) } }

    private func settled(_ ids: [UUID]) {
        exchange.withLock { $0.settle(ids) }
        attachments.envelopesAnswered(ids)
        pump()
    }

    /// Sends from the queue while the window allows: what the exchange hands out, written
    /// in one turn of the connection's loop with one flush, whatever their number.
    private func pump() {
        let readEnvelope = self.readEnvelope
        let (batch, queued) = exchange.withLock { exchange in (exchange.takeForSending(now: Date(), load: readEnvelope), exchange.queued) }
        recordDepth(queued)
        // Chunks when no envelope waits, or in the turn they are owed (`ChunkTurns`).
        let now = Date()
        let allowed = channel == nil ? 0 : chunkTurns.chunksAllowed(envelopesWaiting: queued > 0, now: now)
        let room = channel == nil ? 0 : chunkTurns.chunksToWrite(envelopesWaiting: queued > 0, now: now)
        let chunks = room > 0 ? attachments.framesToSend(atMost: room) : []
        chunkTurns.wrote(envelopes: batch.count, chunks: chunks.count, envelopesWaiting: queued > 0, now: now)
        // Held back or trickling: look again at the next turn, whether or not anything else wakes the link.
        if channel != nil, allowed < .max, !turnWakeScheduled, attachments.hasDue {
            turnWakeScheduled = true
            Task { [weak self, wait = chunkTurns.maxWait] in
                try? await Task.sleep(for: .seconds(wait))
                await self?.turnWake()
            }
        }
        guard let channel, !batch.isEmpty || !chunks.isEmpty else { return }
        channel.eventLoop.execute {
            for item in batch { channel.write(Frame.envelope(item.bytes), promise: nil) }
            for chunk in chunks {
                // Each completed write makes room for the next chunk (`ChunkTurns.maxQueued`).
                let written = channel.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenComplete { [weak self] _ in Task { await self?.chunkWritten() } }
                channel.write(chunk, promise: written)
            }
            channel.flush()
        }
    }

    private func chunkWritten() {
        chunkTurns.chunksWritten(1)
        pump()
    }

    private func turnWake() {
        turnWakeScheduled = false
        pump()
    }

    /// An attachment became due or was added: send if the link is idle.
    nonisolated func attachmentsWaiting() { Task { await self.pump() } }

    private func run() async {
        while !stopped && !Task.isCancelled {
            exchange.withLock { $0.connecting() }
            await delegate.linkChanged(status)
            var established = false
            do {
                let inbox = FrameInbox(limit: limits.window)
                let crypto = self.crypto
                let maxFrame = limits.maxFrameBytes
                let allowed: Set<String> = [peer.center.rawValue]
                let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(10))
                    .channelInitializer { channel in
                        PeerPipeline.configure(channel, crypto: crypto, isServer: false, allowed: allowed,
                                               maxFrameBytes: maxFrame, inbox: inbox)
                    }
                    .connect(host: peer.address.host, port: peer.address.port).get()
                self.connection = connection
                if stopped { try? await connection.close() }
                while let items = await inbox.next() {
                    var receipts: [[UInt8]] = []
                    var frames = 0
                    for item in items {
                        switch item {
                        case .established(let identity):
                            established = true
                            await sessionUp(on: connection, certificateExpiry: identity.certificateExpiry)
                        case .frame(.receipt(let bytes)):
                            receipts.append(bytes)
                            frames += 1
                        case .frame(.error(let code, let reason)):
                            lastError = "the peer sent ERROR \(code): \(reason.prefix(200))"
                            frames += 1
                        case .frame(.attachment(let type, let body)):
                            if let answer = try? AttachmentFrame.parse(type, body) { attachments.received(answer) }
                            frames += 1
                        case .frame(.witnessResponse(let body)):
                            await delegate.witnessAnswered(body, from: peer.center)
                            frames += 1
                        case .frame(.receiptProofAck(let body)):
                            await delegate.receiptProofsAcknowledged(body, from: peer.center)
                            frames += 1
                        case .frame:
                            frames += 1
                        }
                    }
                    if !receipts.isEmpty {
                        let answered = await delegate.receiptsArrived(receipts, from: peer.center)
                        if !answered.isEmpty { settled(answered) }
                    }
                    if frames > 0 { pump(); inbox.consumed(frames, on: connection.eventLoop) }
                }
                try? await connection.close()
                if !established && lastError == nil { lastError = "the connection closed before the session was established" }
            } catch {
                lastError = Self.describe(error, address: peer.address.description)
            }
            channel = nil
            connection = nil
            // Unanswered envelopes go back to the front, in their order, and the link backs off.
            let backoff = OutboundExchange.Backoff(initial: limits.retryInitialSeconds, maximum: limits.retryMaxSeconds,
                                                   jitter: Double.random(in: 0...1))
            let (requeued, delay) = exchange.withLock { $0.connectionLost(established: established, now: Date(), backoff: backoff) }
            retries.increment(by: requeued.count)
            if stopped || Task.isCancelled { break }
            logger.notice("link down", metadata: ["peer": "\(peer.center)", "retryInSeconds": "\(String(format: "%.1f", delay))",
                                                  "error": "\(lastError ?? "closed")"])
            await delegate.linkChanged(status)
            await pause(delay)
        }
    }

    /// The session on `connection` is up: failures are forgiven, and what is queued goes out.
    private func sessionUp(on connection: Channel, certificateExpiry: Date) async {
        lastError = nil
        channel = connection
        lastConnected = Date()
        exchange.withLock { $0.established() }
        attachments.sessionStarted()
        certificateDaysLeft = Int((certificateExpiry.timeIntervalSinceNow / 86_400).rounded(.down))
        Metrics.Gauge(label: "iias_certificate_expiry_seconds", dimensions: [("center", peer.center.rawValue), ("purpose", "tls")])
            .record(certificateExpiry.timeIntervalSinceNow)
        logger.info("link up", metadata: ["peer": "\(peer.center)", "queued": "\(queued)"])
        await delegate.linkChanged(status)
        pump()
    }
}
