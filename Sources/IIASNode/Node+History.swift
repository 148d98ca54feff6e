import Foundation
import IIASAPI
import IIASLog
import IIASModel
import IIASTransport
import Metrics

// History checks between peers (frames 0x24-0x27): a sender's equivocation seen by its
// co-recipients (`Node+Equivocation`), and checkpoints of our log or of a peer's that
// show one side was restored from an older copy (`Node+Restore`).
extension Node {
    /// A history frame from `peer`, on its inbound connection.
    func historyFrameArrived(_ type: FrameType, _ body: [UInt8], from peer: CenterID) async {
        switch type {
        case .seenEnvelopes: await seenArrived(body, from: peer)
        case .envelopeCopy: await envelopeCopyArrived(body, from: peer)
        case .logState: await logStateArrived(body, from: peer)
        case .checkpointGossip: await gossipArrived(body, from: peer)
        default:
            logger.notice("a history frame of a type this node does not read", metadata: ["peer": "\(peer)", "type": "\(type.rawValue)"])
        }
    }

    /// Sends `frame` to `peer` on our link to it; false when the link is not up, or the
    /// peer's node is of a version that does not know history frames.
    func sendHistory(_ frame: Frame, to peer: CenterID) async -> Bool {
        guard let link = peers[peer], !history.speaksNoHistoryFrames.contains(peer) else { return false }
        return await link.sendHistory(frame)
    }

    /// A link went down because the peer refused a history frame as an unknown type (a
    /// version from before them): it gets none until we restart, so that its link stays up.
    func historyFramesRefused(_ status: PeerStatus) {
        let refused = [FrameType.seenEnvelopes, .envelopeCopy, .checkpointGossip, .logState].contains { type in
            status.lastError?.contains("unknownType(\(type.rawValue))") == true
        }
        guard status.state != .connected, refused, history.speaksNoHistoryFrames.insert(status.center).inserted else { return }
        logger.notice("the peer's node does not know history frames (an earlier version): it is sent none until we restart",
                      metadata: ["peer": "\(status.center)"])
    }

    /// Every second: the co-recipient digests gathered go out, one frame per peer; how far
    /// senders hold our receipt proofs is written when it changed; gossip of checkpoints
    /// when our witness state changed, and every `gossipIntervalSeconds`.
    func historyLoop() async {
        var tick = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled || stopping { return }
            await flushSeen()
            saveSentThrough()
            checkUnansweredQuestions()
            tick += 1
            if (history.gossipDue && tick - history.lastGossipTick >= Self.gossipMinimumSeconds) || tick % Self.gossipIntervalSeconds == 0 {
                history.gossipDue = false
                history.lastGossipTick = tick
                await gossipCheckpoints()
            }
        }
    }

    /// Tells the operators: an error line, a counter, a watch event; `iias status` lists it.
    func raise(_ alarm: HistoryAlarm, metric: String) {
        logger.error("\(alarm.kind.rawValue): \(alarm.detail)", metadata: ["center": "\(alarm.center)", "evidence": "\(alarm.evidence ?? "-")"])
        Metrics.Counter(label: metric, dimensions: [("center", alarm.center.rawValue)]).increment()
        emit(.history(alarm))
    }

    /// For `iias status`: equivocation evidence kept, a restore found, witness rollbacks seen.
    func historyAlarms() -> [HistoryAlarm] {
        equivocationAlarms() + restoreAlarms() + history.alarms
    }
}
