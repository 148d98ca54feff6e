import Foundation
import IIASAPI
import IIASModel
import IIASTransport
import Logging
import Metrics
import NIOCore
import NIOPosix
import Synchronization

/// The outbound side of one peer: one TLS connection at a time, reconnecting with
/// exponential backoff and jitter, sending our unreceipted envelopes in log order with at
/// most `window` in flight, and handing the receipts it gets back to the node. Envelopes
/// in flight when a connection drops go back to the front of the queue; the receiver
/// deduplicates, so resending is always safe.
actor PeerLink {
    let peer: NodeConfiguration.Peer
    unowned let node: Node
    let limits: NodeConfiguration.Limits
    private var queue: [UUID] = []
    private var queueHead = 0
    private var waiting: Set<UUID> = []
    private var inFlight: [UUID] = []
    /// Bytes of queued envelopes handed over at submission, at most `window` of them.
    private var fresh: [UUID: [UInt8]] = [:]
    private var channel: Channel?
    /// The current connection from the moment it is open (before the session is up), so
    /// that stopping can close it whatever state it is in.
    private var connection: Channel?
    private var state = PeerConnectionState.connecting
    private var failures = 0
    private var lastError: String?
    private var lastConnected: Date?
    private var nextAttempt: Date?
    /// Ends a backoff early: the peer showed it is up (it connected to us).
    private let (wakeups, wakeSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    private var certificateDaysLeft: Int?
    private var pumping = false
    private var stopped = false
    private var runner: Task<Void, Never>?
    private let depth: Metrics.Gauge
    private let retries: Metrics.Counter

    init(peer: NodeConfiguration.Peer, node: Node, limits: NodeConfiguration.Limits) {
        self.peer = peer
        self.node = node
        self.limits = limits
        depth = Metrics.Gauge(label: "iias_queue_depth", dimensions: [("peer", peer.center.rawValue)])
        retries = Metrics.Counter(label: "iias_retries_total", dimensions: [("peer", peer.center.rawValue)])
    }

    var queued: Int { queue.count - queueHead + inFlight.count }

    /// `queued` as last recorded, readable without a hop onto the link: every submit checks it.
    nonisolated let backlog = Atomic<Int>(0)

    private func recordDepth() {
        depth.record(queued)
        backlog.store(queued, ordering: .relaxed)
    }

    var status: PeerStatus {
        PeerStatus(center: peer.center, address: peer.address.description, state: state, queued: queued,
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
        if state == .backingOff { wakeSignal.yield() }
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

    /// Adds envelopes to send (already logged), in log order.
    nonisolated func enqueue(_ ids: [UUID]) { handOver(ids.map { ($0, nil) }) }

    /// Adds just-logged envelopes with their bytes, in order: sent as they are when their turn comes,
    /// without a hop to the node and a read back from the log. Awaited by the submission:
    /// when the link is idle the caller's thread takes it over and writes the envelope to
    /// the connection at once — no task in between, so no thread to wake on the way to
    /// the wire.
    nonisolated func enqueue(_ envelopes: [(id: UUID, bytes: [UInt8])]) async {
        if handedOver.add(envelopes.lazy.map { ($0.id, $0.bytes as [UInt8]?) }) { await takeHandedOver() }
    }

    /// Envelopes handed over by the node and not yet in the queue, in the order it handed
    /// them over. A task per hand-over would not keep that order: two tasks may reach the
    /// actor either way round when a thread is descheduled between them. Whoever finds
    /// the list empty takes it over (a task, or an awaiting submission), and the list
    /// keeps the order whichever of them reaches the actor first.
    private let handedOver = HandOff<(id: UUID, bytes: [UInt8]?)>()

    private nonisolated func handOver(_ items: [(id: UUID, bytes: [UInt8]?)]) {
        // One task takes everything handed over until it runs, in order.
        if handedOver.add(items) { Task { await self.takeHandedOver() } }
    }

    private func takeHandedOver() async {
        for (id, bytes) in handedOver.take() where !waiting.contains(id) {
            waiting.insert(id)
            queue.append(id)
            if let bytes, fresh.count < limits.window { fresh[id] = bytes }
        }
        recordDepth()
        await pump()
    }

    /// Our envelopes on the wire to this peer and not answered yet (at most a window).
    func inFlightIDs() -> [UUID] { inFlight }

    /// The envelopes have their receipts (or refusals) logged: no more sending.
    private func settle(_ ids: [UUID]) async {
        for id in ids {
            if let position = inFlight.firstIndex(of: id) { inFlight.remove(at: position) }
            waiting.remove(id)
        }
        recordDepth()
        await pump()
    }

    /// Sends from the queue while the window allows.
    private func pump() async {
        guard !pumping else { return }
        pumping = true
        defer { pumping = false }
        while let channel, inFlight.count < limits.window, queueHead < queue.count {
            let written = sendFresh(on: channel)
            if !written.isEmpty {
                // On the wire first, then marked sent (one call for all of them).
                await node.markSent(written, to: peer.center, attempts: 1 + failures)
                continue
            }
            guard queueHead < queue.count else { break }
            let id = queue[queueHead]
            let bytes = await node.takeForSending(id, to: peer.center, attempts: 1 + failures)
            // While this waited on the node, the connection may have closed and put what was
            // in flight back in front of `id` (the actor is reentrant): sending on the old
            // channel would leave `id` in flight on the new one for ever, so start again
            // from the queue as it is now.
            guard self.channel === channel, queueHead < queue.count, queue[queueHead] == id else {
                if bytes != nil { await node.markQueued([id], for: peer.center) }
                continue
            }
            consumeHead()
            guard let bytes else { waiting.remove(id); continue }
            inFlight.append(id)
            channel.writeAndFlush(Frame.envelope(bytes), promise: nil)
        }
    }

    /// Sends the envelopes at the queue's head that were never sent (so not yet answered)
    /// while the window allows, dropping settled ones on the way: written in one turn of
    /// the connection's loop with one flush, whatever their number. Their ids.
    private func sendFresh(on channel: any Channel) -> [UUID] {
        var written: [UUID] = [], frames: [Frame] = []
        while inFlight.count < limits.window, queueHead < queue.count {
            let id = queue[queueHead]
            guard waiting.contains(id) else { fresh[id] = nil; consumeHead(); continue }
            guard let bytes = fresh.removeValue(forKey: id) else { break }
            consumeHead()
            inFlight.append(id)
            frames.append(.envelope(bytes))
            written.append(id)
        }
        if !frames.isEmpty {
            channel.eventLoop.execute {
                for frame in frames { channel.write(frame, promise: nil) }
                channel.flush()
            }
        }
        return written
    }

    /// Moves past the queue's head, dropping the sent part now and then.
    private func consumeHead() {
        queueHead += 1
        if queueHead > 4096, queueHead * 2 > queue.count { queue.removeFirst(queueHead); queueHead = 0 }
    }

    private func run() async {
        while !stopped && !Task.isCancelled {
            state = .connecting
            await node.linkChanged(status)
            var established = false
            do {
                let inbox = FrameInbox(limit: limits.window)
                let crypto = node.crypto
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
                            failures = 0
                            lastError = nil
                            channel = connection
                            state = .connected
                            lastConnected = Date()
                            nextAttempt = nil
                            certificateDaysLeft = Int((identity.certificateExpiry.timeIntervalSinceNow / 86_400).rounded(.down))
                            Metrics.Gauge(label: "iias_certificate_expiry_seconds", dimensions: [("center", peer.center.rawValue), ("purpose", "tls")])
                                .record(identity.certificateExpiry.timeIntervalSinceNow)
                            await node.nextAttempt(for: peer.center, at: nil)
                            node.logger.info("link up", metadata: ["peer": "\(peer.center)", "queued": "\(queued)"])
                            await node.linkChanged(status)
                            await pump()
                        case .frame(.receipt(let bytes)):
                            receipts.append(bytes)
                            frames += 1
                        case .frame(.error(let code, let reason)):
                            lastError = "the peer sent ERROR \(code): \(reason.prefix(200))"
                            frames += 1
                        case .frame:
                            frames += 1
                        }
                    }
                    
                    if !receipts.isEmpty {
                        let settled = await node.receiptsArrived(receipts, from: peer.center)
                        if !settled.isEmpty { await settle(settled) }
                    }
                    if frames > 0 { inbox.consumed(frames, on: connection.eventLoop) }
                }
                try? await connection.close()
                if !established && lastError == nil { lastError = "the connection closed before the session was established" }
            } catch {
                lastError = Self.describe(error, address: peer.address.description)
            }
            channel = nil
            connection = nil
            // Unanswered envelopes go back to the front, in their order.
            if !inFlight.isEmpty {
                queue.replaceSubrange(queueHead..<queueHead, with: inFlight)
                await node.markQueued(inFlight, for: peer.center)
                retries.increment(by: inFlight.count)
                inFlight.removeAll()
            }
            if stopped || Task.isCancelled { break }
            failures = established ? 0 : failures + 1
            let delay = backoff()
            state = .backingOff
            node.logger.notice("link down", metadata: ["peer": "\(peer.center)", "retryInSeconds": "\(String(format: "%.1f", delay))",
                                                       "error": "\(lastError ?? "closed")"])
            nextAttempt = Date().addingTimeInterval(delay)
            await node.nextAttempt(for: peer.center, at: nextAttempt)
            await node.linkChanged(status)
            await pause(delay)
        }
        state = .backingOff
    }

    /// Exponential backoff with "equal jitter": half fixed, half random, capped.
    private func backoff() -> Double {
        let exponential = min(limits.retryMaxSeconds, limits.retryInitialSeconds * pow(2, Double(max(0, failures - 1))))
        return exponential / 2 + Double.random(in: 0...(exponential / 2))
    }
}
