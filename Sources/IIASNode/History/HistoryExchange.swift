import Foundation
import IIASAPI
import IIASLog
import IIASModel

/// What a node holds in memory for the history checks with its peers (co-recipient
/// digests, envelope copies asked for, alarms raised): volatile wire state, rebuilt from
/// nothing at start-up. What must survive a restart (evidence, a restore found) is on disk.
struct HistoryExchange: Sendable {
    /// Digests still to tell each co-recipient peer, oldest first.
    private(set) var seen: [CenterID: [SeenEnvelope]] = [:]
    /// SHA-256 of notifications logged lately that named co-recipients: a peer's SEEN line is
    /// compared with this before the log is read back.
    private var recentDigests: [EnvelopeKey: [UInt8]] = [:]
    private var recentOrder: [EnvelopeKey] = []
    /// Envelope copies asked of a peer, by (peer, sender, id): only these answers are read.
    var asked: Set<String> = []
    /// Alarms raised since start that leave no file of their own (a rolled-back witness state).
    var alarms: [HistoryAlarm] = []
    /// Peers whose node refused a history frame as an unknown type: sent none until restart.
    var speaksNoHistoryFrames: Set<CenterID> = []
    /// Our log's epoch, once read (`LogEpochFile`).
    var epoch: Int?
    /// Our log's size when the node started: after a restore, what survived.
    var sizeAtStart: UInt64 = 0
    /// Witnesses that told us, since start, what they hold of our log.
    var witnessesHeard: Set<CenterID> = []
    /// The refill last served to each peer (from which index, seconds of uptime): the same
    /// request again within `refillSeconds` is not served twice (a peer cannot make this
    /// node resend everything over and over); one from an earlier index is.
    var refillsServed: [CenterID: (fromIndex: UInt64, at: UInt64)] = [:]
    static let refillSeconds: UInt64 = 600
    /// The log each split-view evidence file is about, by path, once read.
    var splitViewLogs: [String: CenterID] = [:]
    /// Alarm acknowledgements by key, once read from `DATA/alarms/acknowledged.json`.
    var acknowledged: [String: AlarmAcknowledgement]?

    /// Digests kept per peer while its link is down; the oldest go first beyond it.
    static let seenLimit = 65_536
    /// Recent digests kept for comparison.
    static let recentLimit = 65_536

    /// Queues `item` for `peer`; true when a full frame waits.
    mutating func queue(_ item: SeenEnvelope, for peer: CenterID) -> Bool {
        seen[peer, default: []].append(item)
        if seen[peer]!.count > Self.seenLimit { seen[peer]!.removeFirst(seen[peer]!.count - Self.seenLimit) }
        return seen[peer]!.count >= SeenEnvelope.maximumPerFrame
    }

    /// Takes at most one frame's worth for each peer.
    mutating func takeSeen() -> [(CenterID, [SeenEnvelope])] {
        var out: [(CenterID, [SeenEnvelope])] = []
        for (peer, items) in seen where !items.isEmpty {
            let batch = Array(items.prefix(SeenEnvelope.maximumPerFrame))
            seen[peer]!.removeFirst(batch.count)
            out.append((peer, batch))
        }
        return out
    }

    /// Puts back a batch that could not be sent, ahead of what came since.
    mutating func putBack(_ items: [SeenEnvelope], for peer: CenterID) {
        seen[peer] = items + (seen[peer] ?? [])
        if seen[peer]!.count > Self.seenLimit { seen[peer]!.removeLast(seen[peer]!.count - Self.seenLimit) }
    }

    mutating func remember(_ item: SeenEnvelope) {
        if recentDigests.updateValue(item.sha256, forKey: item.key) == nil { recentOrder.append(item.key) }
        if recentOrder.count > Self.recentLimit {
            let old = recentOrder.prefix(recentOrder.count / 2)
            for key in old { recentDigests[key] = nil }
            recentOrder.removeFirst(old.count)
        }
    }

    func recentDigest(of key: EnvelopeKey) -> [UInt8]? { recentDigests[key] }

    /// Checkpoints peers gossiped, per witness state name and tree size, not yet compared
    /// with our state of that log (at most `gossipLimit` per log; the smallest go first).
    private var gossip: [String: [UInt64: SignedNote]] = [:]
    /// Our witness state changed, or a link came up: gossip at the next tick.
    var gossipDue = true
    /// The consistency proof asked of a log, per witness state name, when it was last asked
    /// and since when it has waited on the log (seconds of uptime; nil while it reached no
    /// link): one question at a time, asked again when unanswered for `questionSeconds`.
    var consistencyAsked: [String: (question: ConsistencyQuestion, at: UInt64, since: UInt64?)] = [:]

    /// Gossiped notes already taken in, by peer and body: the same again is passed over.
    var gossipSeen: Set<String> = []
    /// Our cosigned notes of the peers' logs as gossip and LOG_STATE send them, by origin,
    /// size and time (signed once a state).
    var ownCosigned: [String: SignedNote] = [:]
    /// The history loop's tick of the last gossip round.
    var lastGossipTick = -1_000

    static let gossipLimit = 64
    static let questionSeconds: UInt64 = 30

    mutating func keepGossiped(_ note: SignedNote, size: UInt64, for name: String) {
        gossip[name, default: [:]][size] = note
        if gossip[name]!.count > Self.gossipLimit, let smallest = gossip[name]!.keys.min() { gossip[name]![smallest] = nil }
    }

    func gossiped(for name: String, size: UInt64) -> SignedNote? { gossip[name]?[size] }

    /// The largest gossiped checkpoint of a size other than `size`, to compare next.
    func gossiped(for name: String, otherThan size: UInt64) -> (size: UInt64, note: SignedNote)? {
        gossip[name]?.filter { $0.key != size }.max { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// A gossiped checkpoint is settled once compared.
    mutating func forgetGossiped(for name: String, size: UInt64) {
        gossip[name]?[size] = nil
    }

    static func askKey(_ peer: CenterID, _ key: EnvelopeKey) -> String { "\(peer.rawValue) \(key)" }
}
