import Foundation
import IIASCrypto
import IIASModel
import Metrics

// The sender's side of a repair, and the log records that let an auditor check stored
// attachments without keys.
extension AttachmentCenter {
    /// `peer` asks again for attachment `root` from chunk `held` (its copy was damaged on
    /// disk): if it is a recipient of ours and the ciphertext is still here, the transfer
    /// starts again, due at once; the recipient's state shows `waiting` until it ends.
    func refetchRequested(_ root: String, by peer: CenterID, from held: Int) {
        if let record = outgoing.withLock({ $0[root] }), record.recipients[peer.rawValue] != nil, record.released == true {
            logger.notice("a peer asked again for an attachment released after delivery", metadata: ["peer": "\(peer)", "attachment": "\(root)"])
            return sender(for: peer).refuseRefetch(of: root, because: Self.releasedReason)
        }
        guard var record = outgoing.withLock({ $0[root] }), record.recipients[peer.rawValue] != nil,
              held < record.chunkCount, FileManager.default.fileExists(atPath: directory.outgoing + "/" + root + ".ct") else {
            logger.notice("a peer asked for an attachment this node cannot send again", metadata: ["peer": "\(peer)", "attachment": "\(root.prefix(64))"])
            return
        }
        record.recipients[peer.rawValue] = "waiting"
        record.endedAt = nil
        outgoing.withLock { $0[root]?.recipients[peer.rawValue] = "waiting"; $0[root]?.endedAt = nil }
        save(record)
        logger.notice("attachment re-requested", metadata: ["peer": "\(peer)", "attachment": "\(root)", "fromChunk": "\(held)"])
        Metrics.Counter(label: "iias_attachment_resends_requested_total", dimensions: [("peer", peer.rawValue)]).increment()
        sender(for: peer).add(record, due: true)
    }

    /// Sets where attachment log records go: `append` logs them and says whether they are
    /// durable; `center` is this node.
    func recordInLog(as center: CenterID, _ append: @escaping @Sendable ([AttachmentLogRecord]) async -> Bool) {
        logRecorder.withLock { $0 = (center, append) }
    }

    /// Logs that this node stored the ciphertext of the attachments of its notification
    /// `envelope` (`positions`: each root's place among the notification's attachments);
    /// returns once the records are durable.
    func logSent(_ positions: [(index: Int, root: String)], envelope: UUID) async {
        guard let (center, append) = logRecorder.withLock({ $0 }) else { return }
        let records = positions.compactMap { position in
            outgoing.withLock { $0[position.root] }.map {
                AttachmentLogRecord(direction: .sent, sender: center, envelope: envelope, index: position.index,
                                    ciphertextBytes: $0.ciphertextBytes, chunkSize: $0.chunkSize, root: $0.root)
            }
        }
        if !records.isEmpty { _ = await append(records) }
    }

    /// Logs that this node holds the whole of each of `completed`; returns once durable.
    func logReceived(_ completed: [IncomingAttachment]) async {
        guard let (_, append) = logRecorder.withLock({ $0 }), !completed.isEmpty else { return }
        _ = await append(completed.compactMap { record in
            CenterID(rawValue: record.sender).map {
                AttachmentLogRecord(direction: .received, sender: $0, envelope: record.envelope, index: record.position ?? 0,
                                    ciphertextBytes: record.ciphertextBytes, chunkSize: record.chunkSize, root: record.root)
            }
        })
    }
}
