import Foundation
import IIASAPI

/// The sending side of the exchange with one peer, as a value: which of our envelopes go
/// out next, which are on the wire, which go back to the front of the queue when a
/// connection is lost, and how long to wait before the next try. It decides and records;
/// it opens no socket, reads no file and keeps no clock (bytes, times and jitter are
/// passed in), so every rule is tested without a process. `PeerLink` owns one and does
/// what it says; the node's `Ledger` only knows what the log says (queued or answered).
struct OutboundExchange: Sendable {
    /// An envelope of ours to send: its id, its log index (where its bytes are read when
    /// they were not handed over), and its bytes when the submission handed them over.
    struct Envelope: Sendable {
        var id: UUID
        var index: UInt64
        var bytes: [UInt8]?
    }

    /// What the exchange shows of one envelope while it is not answered.
    struct Progress: Equatable, Sendable {
        /// Written to the current connection and not answered.
        var onTheWire: Bool
        /// How many times it was written to a connection.
        var attempts: Int
        /// When it was last written.
        var lastSent: Date?
    }

    let window: Int
    private var queue: [UUID] = []
    private var queueHead = 0
    /// Envelopes not answered, by id: their log index.
    private var waiting: [UUID: UInt64] = [:]
    private(set) var inFlight: [UUID] = []
    /// Bytes of queued envelopes handed over at submission, at most `window` of them.
    private var fresh: [UUID: [UInt8]] = [:]
    private var written: [UUID: (count: Int, last: Date)] = [:]
    /// Connection attempts that failed in a row (none since the last established session).
    private(set) var failures = 0
    /// Where the link's connection stands: envelopes leave only while it is `connected`.
    private(set) var phase = PeerConnectionState.connecting
    /// When the link tries again after a failure (kept while it connects again); nil once
    /// a session is up.
    private(set) var nextAttempt: Date?

    init(window: Int) { self.window = max(1, window) }

    /// Envelopes queued or on the wire.
    var queued: Int { queue.count - queueHead + inFlight.count }

    /// Adds envelopes in log order; one already waiting is not added twice.
    mutating func enqueue(_ envelopes: some Sequence<Envelope>) {
        for envelope in envelopes where waiting[envelope.id] == nil {
            waiting[envelope.id] = envelope.index
            queue.append(envelope.id)
            if let bytes = envelope.bytes, fresh.count < window { fresh[envelope.id] = bytes }
        }
    }

    /// The envelopes to write now, in order, while a session is up and the window allows:
    /// each with the bytes handed over, or else those `load` reads from the log by index
    /// (one it cannot read is dropped: it is not ours to send any more). Settled ones are
    /// skipped. Those returned count as on the wire from `now`.
    mutating func takeForSending(now: Date, load: (UInt64) -> [UInt8]?) -> [(id: UUID, bytes: [UInt8])] {
        var batch: [(id: UUID, bytes: [UInt8])] = []
        while phase == .connected, inFlight.count < window, queueHead < queue.count {
            let id = queue[queueHead]
            consumeHead()
            guard let index = waiting[id] else { fresh[id] = nil; continue }
            guard let bytes = fresh.removeValue(forKey: id) ?? load(index) else { waiting[id] = nil; continue }
            inFlight.append(id)
            written[id] = ((written[id]?.count ?? 0) + 1, now)
            batch.append((id, bytes))
        }
        return batch
    }

    /// The envelopes are answered (receipt or refusal logged, now or before): no more
    /// sending. Ids the exchange does not know are ignored.
    mutating func settle(_ ids: some Sequence<UUID>) {
        var answered: Set<UUID> = []
        for id in ids where waiting.removeValue(forKey: id) != nil {
            answered.insert(id)
            fresh[id] = nil
            written[id] = nil
        }
        if !answered.isEmpty { inFlight.removeAll { answered.contains($0) } }
    }

    /// The link opens a connection (at start, or when a backoff ends).
    mutating func connecting() { phase = .connecting }

    /// A session is up: failures are forgiven, no retry is pending, envelopes may leave.
    mutating func established() {
        phase = .connected
        failures = 0
        nextAttempt = nil
    }

    /// The connection is gone (`established`: after a session was up). What was on the
    /// wire goes back to the front of the queue in its order (the receiver deduplicates,
    /// so resending is safe), and the link backs off until `now` + the returned wait
    /// (`backoff`). The requeued ids are returned too.
    mutating func connectionLost(established: Bool, now: Date, backoff: Backoff) -> (requeued: [UUID], wait: Double) {
        let requeued = inFlight
        queue.replaceSubrange(queueHead..<queueHead, with: requeued)
        inFlight.removeAll()
        failures = established ? 0 : failures + 1
        let wait = backoff.wait(afterFailures: failures)
        phase = .backingOff
        nextAttempt = now.addingTimeInterval(wait)
        return (requeued, wait)
    }

    /// Exponential backoff with "equal jitter": half fixed, half `jitter` ∈ 0...1 of the
    /// other half, capped at `maximum`.
    struct Backoff: Sendable {
        var initial: Double
        var maximum: Double
        var jitter: Double

        func wait(afterFailures failures: Int) -> Double {
            let exponential = min(maximum, initial * pow(2, Double(max(0, failures - 1))))
            return exponential / 2 + exponential / 2 * min(max(jitter, 0), 1)
        }
    }

    /// Where `id` stands on this link; nil when it is not waiting here.
    func progress(of id: UUID) -> Progress? {
        guard waiting[id] != nil else { return nil }
        let sent = written[id]
        return Progress(onTheWire: inFlight.contains(id), attempts: sent?.count ?? 0, lastSent: sent?.last)
    }

    /// Moves past the queue's head, dropping the sent part now and then.
    private mutating func consumeHead() {
        queueHead += 1
        if queueHead > 4096, queueHead * 2 > queue.count { queue.removeFirst(queueHead); queueHead = 0 }
    }
}
