import Dispatch
import IIASModel
import IIASTransport
import NIOCore
import Synchronization

/// Writes one inbound connection's attachment chunks, in order, on a dispatch queue of
/// its own: checking, writing and fsyncing a window of chunks takes milliseconds, and
/// done in the connection's reading task it held every envelope read behind those chunks
/// — a flash notification waited for the disk, and a thread of the small pool that runs
/// the node waited with it. Whatever arrived while the queue was busy is written as one
/// batch with one fsync and one CHUNK_ACK, so the disk sees a window at a time, not a
/// chunk at a time. The sender keeps at most a window of chunks unacknowledged, so little
/// waits here; a peer that ignores its window is read no faster than its chunks are
/// written (its reader waits once more than `backlogLimit` frames wait).
final class ChunkWriter: Sendable {
    private struct Pending {
        var frames: [(FrameType, [UInt8])] = []
        var draining = false
        var closing = false
        var readers: [CheckedContinuation<Void, Never>] = []
    }

    private let node: Node
    private let peer: CenterID
    private let channel: Channel
    private let queue = DispatchQueue(label: "iias.attachment-chunks")
    private let pending = Mutex(Pending())
    let backlogLimit: Int

    init(node: Node, peer: CenterID, channel: Channel, backlogLimit: Int = 64) {
        self.node = node
        self.peer = peer
        self.channel = channel
        self.backlogLimit = backlogLimit
    }

    /// Queues a batch of the peer's attachment frames; returns at once unless the backlog
    /// is over its limit, then once the queue has written the batch before and takes
    /// these: at most about twice the limit waits in memory.
    func write(_ frames: [(FrameType, [UInt8])]) async {
        let (start, over) = pending.withLock { state -> (Bool, Bool) in
            state.frames += frames
            let start = !state.draining
            state.draining = true
            return (start, state.frames.count > backlogLimit)
        }
        if start { queue.async { self.drain() } }
        guard over else { return }
        await withCheckedContinuation { reader in
            let drained = pending.withLock { state -> Bool in
                guard state.draining else { return true }
                state.readers.append(reader)
                return false
            }
            if drained { reader.resume() }
        }
    }

    /// Writes what waits, batch after batch, until nothing does.
    private func drain() {
        while true {
            let (frames, readers) = pending.withLock { state -> ([(FrameType, [UInt8])], [CheckedContinuation<Void, Never>]) in
                let taken = (state.closing ? [] : state.frames, state.readers)
                state.frames = []
                state.readers = []
                if taken.0.isEmpty { state.draining = false }
                return taken
            }
            for reader in readers { reader.resume() }
            guard !frames.isEmpty else { return }
            // Closed after a bad or rejected frame: the rest is not read.
            if channel.isActive, !node.chunksArrived(frames, from: peer, on: channel) {
                pending.withLock { $0.closing = true }
            }
        }
    }
}
