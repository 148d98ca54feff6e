import IIASModel
import IIASTransport
import Metrics
import NIOCore

// Attachment chunks from peers: written and fsynced off the actor, answered on their connection.
extension Node {
    /// Hands one batch of a peer's attachment frames to the receiver (file writes and
    /// fsync on the caller's thread — a `ChunkWriter`'s queue — not on the actor) and
    /// writes its answers. A body that does not read is a bad frame: ERROR 1, and that
    /// connection closes; the node goes on.
    nonisolated func chunksArrived(_ frames: [(FrameType, [UInt8])], from peer: CenterID, on channel: Channel) {
        do {
            let answers = try attachments.receiver.receive(frames, from: peer)
            channel.eventLoop.execute {
                for answer in answers { channel.write(answer, promise: nil) }
                channel.flush()
            }
        } catch {
            Metrics.Counter(label: "iias_attachment_bad_frames_total").increment()
            logger.warning("closed a connection that sent a bad attachment frame", metadata: ["peer": "\(peer)", "error": "\(error)"])
            channel.writeAndFlush(Frame.error(code: Self.badFrameCode, reason: "bad attachment frame: \(error)")).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    /// ERROR code for a frame that does not read (FrameProtocol.md).
    static let badFrameCode: UInt16 = 1
}
