import Dispatch
import IIASLog
import IIASModel
import IIASTransport
import Metrics
import NIOCore

// Attachment chunks from peers: written and fsynced off the actor, answered on their connection.
extension Node {
    /// Hands one batch of a peer's attachment frames to the receiver (file writes and
    /// fsync on the caller's thread — a `ChunkWriter`'s queue — not on the actor) and
    /// writes its answers. A body that does not read is a bad frame: ERROR 1, and that
    /// connection closes; the node goes on. A chunk that is not the committed one: ERROR 6
    /// and that connection closes too. False once the connection is closing.
    nonisolated func chunksArrived(_ frames: [(FrameType, [UInt8])], from peer: CenterID, on channel: Channel) -> Bool {
        do {
            let answers = try attachments.receiver.receive(frames, from: peer)
            if !answers.completed.isEmpty { logBeforeAnswering(answers.completed) }
            Self.write(answers.frames, on: channel)
            guard let rejected = answers.rejected else { return true }
            // Nothing after the rejected chunk is read: the sender resends from the last CHUNK_ACK.
            closeAfter(Frame.error(code: Self.rejectedChunkCode, reason: rejected + "; resend from the last acknowledged chunk"), on: channel)
            return false
        } catch {
            Metrics.Counter(label: "iias_attachment_bad_frames_total").increment()
            logger.warning("closed a connection that sent a bad attachment frame", metadata: ["peer": "\(peer)", "error": "\(error)"])
            closeAfter(Frame.error(code: Self.badFrameCode, reason: "bad attachment frame: \(error)"), on: channel)
            return false
        }
    }

    /// Completed attachments are logged before their `ATTACHMENT_END` says complete: the
    /// chunk queue waits for the log (rare: once per file), the node's pool does not.
    private nonisolated func logBeforeAnswering(_ completed: [IncomingAttachment]) {
        let logged = DispatchSemaphore(value: 0)
        Task { [attachments] in
            await attachments.logReceived(completed)
            logged.signal()
        }
        logged.wait()
    }

    private nonisolated func closeAfter(_ frame: Frame, on channel: Channel) {
        channel.writeAndFlush(frame).whenComplete { _ in channel.close(promise: nil) }
    }

    /// ERROR code for a frame that does not read (FrameProtocol.md).
    static let badFrameCode: UInt16 = 1
    /// ERROR code for a CHUNK that is not the committed one (FrameProtocol.md).
    static let rejectedChunkCode: UInt16 = 6

    /// Attachment log records go into the log as `operatorAction` entries, in order.
    func recordAttachmentsInLog() {
        attachments.recordInLog(as: center) { [weak self] records in await self?.appendAttachmentRecords(records) ?? false }
    }

    /// True once the records are durable; false (with an error line) when the log refused them.
    private func appendAttachmentRecords(_ records: [AttachmentLogRecord]) async -> Bool {
        do {
            _ = try await append(records.map { (EntryType.operatorAction, $0.encoded(), nil) })
            return true
        } catch {
            logger.error("cannot log attachment records", metadata: ["count": "\(records.count)", "error": "\(error)"])
            return false
        }
    }

    /// Writes `frames` on `channel` from its own event loop, with one flush.
    nonisolated static func write(_ frames: [Frame], on channel: Channel) {
        channel.eventLoop.execute {
            for frame in frames { channel.write(frame, promise: nil) }
            channel.flush()
        }
    }
}
