import IIASLog
import IIASModel
import IIASTransport
import Metrics
import NIOCore

// Attachment chunks from peers: written and fsynced off the actor, answered on their connection.
extension Node {
    /// Hands one batch of a peer's attachment frames to the receiver (file writes and
    /// fsync on this task, not on the actor) and writes its answers. A body that does not
    /// read is a bad frame: ERROR 1, and that connection closes (false); the node goes on.
    nonisolated func chunksArrived(_ frames: [(FrameType, [UInt8])], from peer: CenterID, on channel: Channel) async -> Bool {
        do {
            let answers = try attachments.receiver.receive(frames, from: peer)
            await attachments.logReceived(answers.completed)  // logged before ATTACHMENT_END says complete
            Self.write(answers.frames, on: channel)
            guard let rejected = answers.rejected else { return true }
            // Nothing after the rejected chunk is read: the sender resends from the last CHUNK_ACK.
            try? await channel.writeAndFlush(Frame.error(code: Self.rejectedChunkCode, reason: rejected + "; resend from the last acknowledged chunk")).get()
            try? await channel.close()
            return false
        } catch {
            Metrics.Counter(label: "iias_attachment_bad_frames_total").increment()
            logger.warning("closed a connection that sent a bad attachment frame", metadata: ["peer": "\(peer)", "error": "\(error)"])
            try? await channel.writeAndFlush(Frame.error(code: Self.badFrameCode, reason: "bad attachment frame: \(error)")).get()
            try? await channel.close()
            return false
        }
    }

    /// ERROR code for a frame that does not read (FrameProtocol.md).
    static let badFrameCode: UInt16 = 1
    /// ERROR code for a CHUNK that is not the committed one (FrameProtocol.md).
    static let rejectedChunkCode: UInt16 = 6

    /// Attachment log records go into the log as `operatorAction` entries, in order.
    func recordAttachmentsInLog() {
        attachments.recordInLog(as: center) { [weak self] records in await self?.appendAttachmentRecords(records) }
    }

    private func appendAttachmentRecords(_ records: [AttachmentLogRecord]) async {
        do { _ = try await append(records.map { (EntryType.operatorAction, $0.encoded(), nil) }) } catch {
            logger.error("cannot log attachment records", metadata: ["count": "\(records.count)", "error": "\(error)"])
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
