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
            channel.eventLoop.execute {
                for answer in answers { channel.write(answer, promise: nil) }
                channel.flush()
            }
            return true
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
}
