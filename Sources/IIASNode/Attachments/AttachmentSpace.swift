import Foundation
import IIASModel
import Metrics

/// A recipient whose disk runs short waits instead of refusing: a chunk is written only
/// while the file system keeps `spare` bytes free after it. Short of that, the attachment
/// shows `waitingForSpace` (why, in its reason), what is durable stays, and each chunk that
/// comes — the sender's probes, every few seconds while it hears no progress — checks
/// again; the first that fits resumes the transfer.
extension AttachmentReceiver {
    /// Whether chunk bytes of `bytes` fit now; moves `record` in or out of waiting (durably).
    func hasSpace(for record: inout IncomingAttachment, bytes: Int) -> Bool {
        let free = AttachmentDirectory.freeBytes(directory.incoming) ?? Int.max
        let fits = free - bytes >= spare
        let state: IncomingAttachment.State = fits ? .receiving : .waitingForSpace
        guard state != record.state else { return fits }
        record.state = state
        record.reason = fits ? nil : "waiting for space: \(free) bytes free, \(spare) kept spare (limits.attachmentSpareBytes), \(bytes) needed for the next chunk"
        records.withLock { [record] in $0[record.key] = record }
        persist(record)
        logger.notice(fits ? "space returned; attachment resumes" : "attachment waiting for space",
                      metadata: ["attachment": "\(record.key)", "held": "\(record.held)", "free": "\(free)"])
        Metrics.Gauge(label: "iias_attachments_waiting_for_space").record(records.withLock { $0.values.filter { $0.state == .waitingForSpace }.count })
        return fits
    }
}

extension AttachmentCenter {
    /// Seconds without progress after which a sender probes a transfer again.
    static let stallSeconds: Double = 3

    /// Every second, senders whose transfers have heard nothing new for `stallSeconds` are
    /// woken to probe again (a recipient waiting for space answers only what it holds).
    func watchForStalls() {
        Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard let self else { return }
                for sender in self.allSenders() { sender.probeIfStalled(after: Self.stallSeconds) }
                await self.releaseExpired()
            }
        }
    }
}
