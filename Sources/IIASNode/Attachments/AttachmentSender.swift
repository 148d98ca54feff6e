import Foundation
import IIASCrypto
import IIASModel
import IIASTransport
import Metrics
import Synchronization

/// The attachments one link sends: which are due (their notification answered), which
/// chunk goes next, and what the recipient said it holds. The link asks it for frames
/// when no envelope waits, or in the turn chunks are owed (`ChunkTurns`, which also keeps
/// at most one chunk queued in the channel, so a flash notification waits behind about
/// one chunk); at most `window` chunks are unacknowledged. After a new session the first chunk is a
/// probe: the recipient's CHUNK_ACK says from where to go on, so a restart at either end
/// resends at most the window.
final class AttachmentSender: Sendable {
    struct Transfer: Sendable {
        var record: OutgoingAttachment
        /// The notification is answered here: chunks may go.
        var due = false
        /// Chunks the recipient said it holds; the next chunk to write.
        var held = 0
        var next = 0
        /// Waiting for the first CHUNK_ACK of this session.
        var probing = true
        /// Chunks written to the wire by this process, resends included.
        var written = 0
        var tree: ChunkTree?
        /// When the recipient last answered about it (or it was last probed).
        var lastHeard = Date()
        /// Probed again after hearing nothing new for a while (a recipient waiting for space).
        var stalled = false
    }

    let peer: CenterID
    let window: Int
    private let directory: AttachmentDirectory
    private let transfers = Mutex<[Transfer]>([])
    /// Notifications answered lately: an attachment added just after its notification's
    /// receipt came is due at once.
    private let answeredLately = Mutex<[UUID]>([])
    /// ATTACHMENT_ENDs for attachments not added yet (a refusal sent with the receipt).
    private let endedEarly = Mutex<[String: (complete: Bool, reason: String)]>([:])
    /// Called when the recipient ends a transfer: (root, delivered, reason, chunks written).
    private let ended: @Sendable (String, Bool, String, Int) -> Void

    init(peer: CenterID, directory: AttachmentDirectory, window: Int = 32, ended: @escaping @Sendable (String, Bool, String, Int) -> Void) {
        self.peer = peer
        self.directory = directory
        self.window = window
        self.ended = ended
    }

    /// Called with (root, held) for a CHUNK_ACK naming no transfer under way: the
    /// recipient asks again for an attachment it had (damaged on its disk).
    private let unknownAck = Mutex<(@Sendable (String, Int) -> Void)?>(nil)

    /// What to call for a CHUNK_ACK of an attachment not being sent (set once).
    func onUnknownAck(_ call: @escaping @Sendable (String, Int) -> Void) { unknownAck.withLock { $0 = call } }

    /// Wakes the link when an attachment becomes due outside its own sending path.
    private let wake = Mutex<(@Sendable () -> Void)?>(nil)

    /// What the link calls to be woken (set once, by the link).
    func wakeLink(with call: @escaping @Sendable () -> Void) { wake.withLock { $0 = call } }

    /// Adds an attachment to send; `due` when its notification is already answered.
    func add(_ record: OutgoingAttachment, due: Bool) {
        // The recipient may have refused it with the notification's receipt, before this.
        if let early = endedEarly.withLock({ $0.removeValue(forKey: record.root) }) { return ended(record.root, early.complete, early.reason, 0) }
        let due = due || answeredLately.withLock { $0.contains(record.envelope) }
        transfers.withLock { list in
            guard !list.contains(where: { $0.record.root == record.root }) else { return }
            list.append(Transfer(record: record, due: due))
        }
        if due { wake.withLock { $0 }?() }
    }

    /// The notifications are answered: their attachments may go.
    func envelopesAnswered(_ ids: [UUID]) {
        let answered = Set(ids)
        answeredLately.withLock { lately in
            lately.append(contentsOf: ids)
            if lately.count > 1024 { lately.removeFirst(lately.count - 1024) }
        }
        transfers.withLock { list in for i in list.indices where answered.contains(list[i].record.envelope) { list[i].due = true } }
    }

    /// A new session: every transfer begins again with a probe from what the recipient last acknowledged.
    func sessionStarted() {
        transfers.withLock { list in for i in list.indices { list[i].next = list[i].held; list[i].probing = true } }
    }

    /// Progress of `root` (chunks held by the recipient, of how many), if it is being sent.
    func progress(of root: String) -> (held: Int, count: Int, stalled: Bool)? {
        transfers.withLock { list in list.first { $0.record.root == root }.map { ($0.held, $0.record.chunkCount, $0.stalled) } }
    }

    /// A due transfer whose window is full and that heard nothing for `seconds` goes back
    /// to probing from what the recipient holds (its unanswered chunks were not taken), and
    /// the link is woken to send the probe.
    func probeIfStalled(after seconds: Double) {
        let now = Date()
        let probe = transfers.withLock { list -> Bool in
            guard let i = list.firstIndex(where: \.due), list[i].next > list[i].held, now.timeIntervalSince(list[i].lastHeard) >= seconds else { return false }
            list[i].next = list[i].held
            list[i].probing = true
            list[i].stalled = true
            list[i].lastHeard = now
            return true
        }
        if probe { wake.withLock { $0 }?() }
    }

    /// Whether a transfer may send (its notification answered).
    var hasDue: Bool { refusing.withLock { !$0.isEmpty } || transfers.withLock { $0.contains(where: \.due) } }

    /// The chunk frames to write now: from the first due transfer, as many as the window
    /// allows (one while probing), and `atMost` (the link's `ChunkTurns`); refusals of
    /// re-fetches go first. Each chunk read is checked against its leaf hash first: a copy
    /// damaged here is never sent; that transfer ends, recorded as not sent and why.
    func framesToSend(atMost limit: Int = .max) -> [Frame] {
        let refusals = refusing.withLock { list in defer { list = [] }; return list }
        var damaged: (transfer: Transfer, why: String)?
        let frames = transfers.withLock { list -> [Frame] in
            guard let i = list.firstIndex(where: \.due) else { return [] }
            let inFlight = list[i].next - list[i].held
            let room = min(limit, list[i].probing ? (inFlight == 0 ? 1 : 0) : window - inFlight)
            guard room > 0 else { return [] }
            if list[i].tree == nil { list[i].tree = loadTree(list[i].record) }
            guard let tree = list[i].tree else {
                damaged = (list.remove(at: i), "its chunk hashes are missing or do not hash to the root")
                return []
            }
            let read = readChunks(of: list[i], tree: tree, count: room)
            if read.frames.isEmpty, let why = read.damage {
                damaged = (list.remove(at: i), why)
                return []
            }
            list[i].next += read.frames.count
            list[i].written += read.frames.count
            Metrics.Counter(label: "iias_attachment_chunks_sent_total", dimensions: [("peer", peer.rawValue)]).increment(by: read.frames.count)
            return read.frames
        }
        if let damaged { ended(damaged.transfer.record.root, false, "not sent: this node's copy is damaged (\(damaged.why))", damaged.transfer.written) }
        return refusals + frames
    }

    /// ATTACHMENT_ENDs to send the recipient: re-fetches this node can no longer answer.
    private let refusing = Mutex<[Frame]>([])

    /// Tells the recipient, with an ATTACHMENT_END that is not complete, that `root` is
    /// not sent again and why (its ciphertext was released after delivery).
    func refuseRefetch(of root: String, because reason: String) {
        guard let bytes = [UInt8](hexString: root) else { return }
        refusing.withLock { $0.append(AttachmentFrame.end(root: bytes, complete: false, reason: reason).frame) }
        wake.withLock { $0 }?()
    }

    private func loadTree(_ record: OutgoingAttachment) -> ChunkTree? {
        guard let bytes = FileManager.default.contents(atPath: directory.outgoing + "/" + record.root + ".hashes"),
              bytes.count == record.chunkCount * 32 else { return nil }
        let flat = [UInt8](bytes)
        let tree = ChunkTree(leafHashes: stride(from: 0, to: flat.count, by: 32).map { Array(flat[$0..<($0 + 32)]) })
        return tree.root.hexString == record.root ? tree : nil
    }

    /// Up to `count` chunk frames from the transfer's next chunk, stopping before the first
    /// chunk that cannot be read whole or does not match its leaf hash (named in `damage`).
    private func readChunks(of transfer: Transfer, tree: ChunkTree, count: Int) -> (frames: [Frame], damage: String?) {
        let record = transfer.record
        let fd = open(directory.outgoing + "/" + record.root + ".ct", O_RDONLY)
        guard fd >= 0 else { return ([], "its ciphertext file is missing") }
        defer { close(fd) }
        let layout = IncomingAttachment(sender: "", envelope: record.envelope, root: record.root, nonce: "", chunkSize: record.chunkSize,
                                        plaintextBytes: record.plaintextBytes, held: 0, state: .receiving)
        guard let root = [UInt8](hexString: record.root) else { return ([], "its root does not read") }
        var frames: [Frame] = []
        for index in transfer.next..<min(record.chunkCount, transfer.next + count) {
            let range = layout.range(ofChunk: index)
            guard let bytes = AttachmentDirectory.readExactly(fd, count: range.count, at: range.lowerBound) else { return (frames, "chunk \(index) is cut short") }
            guard AttachmentSeal.chunkHash(bytes) == tree.hash(index, index + 1) else { return (frames, "chunk \(index) is altered") }
            frames.append(AttachmentFrame.chunk(root: root, index: index, proof: tree.proof(index), bytes: bytes).frame)
        }
        return (frames, nil)
    }

    /// A CHUNK_ACK or ATTACHMENT_END from the recipient.
    func received(_ frame: AttachmentFrame) {
        switch frame {
        case .ack(let root, let held):
            let hex = root.hexString
            let known = transfers.withLock { list -> Bool in
                guard let i = list.firstIndex(where: { $0.record.root == hex }) else { return false }
                guard held <= list[i].record.chunkCount else { return true }
                if held > list[i].held { list[i].stalled = false }
                list[i].lastHeard = Date()
                list[i].held = held
                if list[i].probing || held > list[i].next { list[i].next = held }
                list[i].probing = false
                return true
            }
            if !known { unknownAck.withLock { $0 }?(hex, held) }
        case .end(let root, let complete, let reason):
            let hex = root.hexString
            let removed = transfers.withLock { list -> Transfer? in
                guard let i = list.firstIndex(where: { $0.record.root == hex }) else { return nil }
                return list.remove(at: i)
            }
            if let removed { ended(hex, complete, reason, removed.written) } else {
                endedEarly.withLock { early in if early.count < 1024 { early[hex] = (complete, reason) } }
            }
        case .chunk:
            break
        }
    }
}
