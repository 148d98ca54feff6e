import Dispatch
import IIASModel
import IIASTransport
import NIOCore
import Synchronization

/// Writes one inbound connection's attachment chunks, in order, on a serial queue of its
/// own: checking, writing and fsyncing a window of chunks takes milliseconds, and done in
/// the connection's reading task it held every envelope read behind those chunks — a
/// flash notification waited for the disk, and a thread of the small pool that runs the
/// node waited with it. The sender keeps at most a window of chunks unacknowledged, so
/// little waits here; a peer that ignores its window is read no faster than its chunks
/// are written (its batch is awaited once more than `backlogLimit` frames wait).
final class ChunkWriter: Sendable {
    private let node: Node
    private let queue = DispatchQueue(label: "iias.attachment-chunks")
    private let waiting = Atomic<Int>(0)
    let backlogLimit: Int

    init(node: Node, backlogLimit: Int = 64) {
        self.node = node
        self.backlogLimit = backlogLimit
    }

    /// Queues a batch of `peer`'s attachment frames read on `channel`; returns at once
    /// unless the backlog is over its limit, then once this batch is written.
    func write(_ frames: [(FrameType, [UInt8])], from peer: CenterID, on channel: Channel) async {
        let backlog = waiting.add(frames.count, ordering: .relaxed).newValue
        guard backlog > backlogLimit else { return queue.async { self.handle(frames, from: peer, on: channel) } }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                self.handle(frames, from: peer, on: channel)
                done.resume()
            }
        }
    }

    private func handle(_ frames: [(FrameType, [UInt8])], from peer: CenterID, on channel: Channel) {
        defer { waiting.subtract(frames.count, ordering: .relaxed) }
        guard channel.isActive else { return }   // closed after a bad frame: the rest is not read
        node.chunksArrived(frames, from: peer, on: channel)
    }
}
