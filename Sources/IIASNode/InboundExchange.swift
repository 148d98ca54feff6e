import Foundation
import IIASCrypto
import IIASModel

/// The receiving side's decisions as values: what a batch of envelopes from a peer is
/// answered with (logged and receipted, answered as before, refused), and which receipts
/// for our envelopes are logged, merely settle, or are ignored. The state they decide on
/// is the ledger's (what the log holds), passed in as lookups; they touch no socket, file
/// or key, so duplicates, replays, refusals and unknown receipts are tested without a
/// process. `Node` gathers the inputs, logs what they say to log, and signs the answers.
enum InboundExchange {
    /// One envelope of a batch as the stateless checks (`Node.check`) left it.
    struct Arrival: Sendable {
        var id: UUID
        var sha256: [UInt8]
        var check: Check
    }

    enum Check: Sendable, Equatable {
        /// Refused before it could be taken as its sender's (unparseable, or another
        /// sender than the connection's): refused whatever the log holds.
        case refusedOutright(Receipt.RefusalReason, String)
        /// Refused, but its own sender's: bytes logged before get the receipt signed then.
        case refused(Receipt.RefusalReason, String)
        /// Passed every check; `acknowledgesOurs` is false for an acknowledgement that
        /// names no notification of ours to this peer (nil: not an acknowledgement).
        case accepted(acknowledgesOurs: Bool?)
    }

    /// What the ledger holds under the peer's id: where and when it was logged, and its digest.
    struct Logged: Equatable, Sendable {
        var index: UInt64
        var time: Date
        var sha256: [UInt8]
    }

    enum Decision: Equatable, Sendable {
        /// Log it, then answer with its receipt.
        case log
        /// Bytes logged before: the receipt signed then (its index and time), whatever the
        /// checks say today — a recipient never signs two outcomes for the same bytes.
        case answerAsLogged(Logged)
        /// The same bytes as the arrival at that position of this batch, which is logged: its receipt.
        case sameAs(Int)
        /// A signed refusal with this reason.
        case refuse(Receipt.RefusalReason, String)
    }

    /// The decision for each arrival, in order. `logged`: what the ledger holds under the
    /// peer's id. An id reused for other bytes (in the log or earlier in the batch) is refused.
    static func decide(_ arrivals: [Arrival], from peer: CenterID, logged: (UUID) -> Logged?) -> [Decision] {
        var firstInBatch: [UUID: Int] = [:]
        return arrivals.enumerated().map { position, arrival in
            switch arrival.check {
            case .refusedOutright(let reason, let detail):
                return .refuse(reason, detail)
            case .refused(let reason, let detail):
                if let known = logged(arrival.id), known.sha256 == arrival.sha256 { return .answerAsLogged(known) }
                return .refuse(reason, detail)
            case .accepted(let acknowledgesOurs):
                let reused = Decision.refuse(.invalid, "\(peer) already used this envelope id for other bytes, or it is not stored")
                if let known = logged(arrival.id) { return known.sha256 == arrival.sha256 ? .answerAsLogged(known) : reused }
                if let first = firstInBatch[arrival.id] { return arrivals[first].sha256 == arrival.sha256 ? .sameAs(first) : reused }
                if acknowledgesOurs == false { return .refuse(.invalid, "acknowledges no notification of ours to \(peer)") }
                firstInBatch[arrival.id] = position
                return .log
            }
        }
    }

    /// Where one of our envelopes stands with the peer a receipt came from.
    enum Standing: Sendable, Equatable {
        /// Waiting for its answer; `sha256`: the digest of its bytes (nil when unreadable).
        case waiting(sha256: [UInt8]?)
        /// Answered before (delivered, refused or acknowledged).
        case answered
        /// Delivered before, the recipient's receipt naming its log index `recipientLogIndex`,
        /// to a recipient that was refilled since (it logged the envelope again, elsewhere).
        case delivered(sha256: [UInt8]?, recipientLogIndex: UInt64?)
    }

    /// One receipt of a receipt envelope: the envelope it names (nil: a refusal of bytes
    /// that matched nothing we have on the wire), the digest it names, and whether it refuses.
    struct ReceiptLine: Sendable {
        var id: UUID?
        var sha256: [UInt8]
        var refuses: Bool
        /// The recipient's log index the receipt names, if any.
        var logIndex: UInt64? = nil
    }

    /// What a batch of receipt envelopes does.
    struct ReceiptOutcome: Equatable, Sendable {
        /// Positions of the receipt envelopes to log (each whole, as signed).
        var log: [Int] = []
        /// Our envelopes these answer for the first time, with the position of the envelope answering each.
        var answers: [(id: UUID, envelope: Int)] = []
        /// Envelopes answered before: the link stops sending them, nothing is logged for them
        /// (unless re-indexed).
        var alreadyAnswered: [UUID] = []
        /// Envelopes delivered before that a refilled recipient logged again at another index:
        /// the receipt envelope naming the new index is logged, so that proofs of delivery
        /// naming it are kept.
        var reindexed: [UUID] = []
        /// Ids named that are not ours to this peer (ignored).
        var unknown: [UUID] = []
        /// Positions of receipt envelopes naming other bytes than we sent (not logged at all:
        /// the fold trusts every receipt in a logged entry).
        var distrusted: [Int] = []

        static func == (a: Self, b: Self) -> Bool {
            a.log == b.log && a.answers.map(\.id) == b.answers.map(\.id) && a.answers.map(\.envelope) == b.answers.map(\.envelope)
                && a.alreadyAnswered == b.alreadyAnswered && a.unknown == b.unknown && a.distrusted == b.distrusted && a.reindexed == b.reindexed
        }
    }

    /// Sorts receipt envelopes (each a list of lines) into what to log and what to settle.
    /// A delivery receipt must name the digest of the bytes we logged; a refusal need not
    /// (the recipient may not have read them whole). An envelope answered twice in the
    /// batch is answered by the first.
    static func sortReceipts(_ envelopes: [[ReceiptLine]], standing: (UUID) -> Standing?) -> ReceiptOutcome {
        var outcome = ReceiptOutcome()
        var answered: Set<UUID> = []
        for (position, lines) in envelopes.enumerated() {
            var new: [UUID] = []
            var reindexed = false
            var trusted = true
            for line in lines {
                guard let id = line.id else { continue }
                guard let state = standing(id) else { outcome.unknown.append(id); continue }
                if case .delivered(let sha256, let index) = state, !line.refuses, sha256 != nil, line.sha256 == sha256,
                   let named = line.logIndex, named != index, !outcome.reindexed.contains(id) {
                    outcome.reindexed.append(id)
                    reindexed = true
                }
                guard case .waiting(let sha256) = state, !answered.contains(id), !new.contains(id) else {
                    outcome.alreadyAnswered.append(id)
                    continue
                }
                guard line.refuses || (sha256 != nil && line.sha256 == sha256) else { trusted = false; break }
                new.append(id)
            }
            guard trusted else {
                outcome.distrusted.append(position)
                if reindexed { outcome.reindexed.removeAll { id in lines.contains { $0.id == id } } }
                continue
            }
            guard !new.isEmpty else {
                if reindexed { outcome.log.append(position) }
                continue
            }
            answered.formUnion(new)
            outcome.log.append(position)
            outcome.answers += new.map { ($0, position) }
        }
        return outcome
    }
}
