import Foundation
import IIASCrypto

// Appending: entries and signed tree heads, handed to the store's group-commit writer.
extension LogStore {
    /// Appends one entry; returns its index once it is on disk (after fdatasync).
    public func append(type: EntryType, payload: [UInt8]) async throws -> UInt64 {
        try await append([(type, payload)])[0].index
    }

    /// Appends several entries in this order as consecutive indexes, made durable by the
    /// same fdatasync; returns them as written (index and time filled in) once they are on
    /// disk, so callers need not read them back. What a receiver uses to log every envelope
    /// that arrived together with one sync and in arrival order.
    ///
    /// Group commit with a leader: when nothing is being written and nothing waits, the
    /// caller writes and syncs its own entries at once, on its own thread (no hand-over to
    /// the writer thread and back, two wake-ups saved on an idle node). Otherwise — or
    /// while the disk's syncs are slow — they wait for the writer thread, which takes
    /// everything queued as one batch.
    public func append(_ entries: [(type: EntryType, payload: [UInt8])]) async throws -> [LogEntry] {
        guard !entries.isEmpty else { return [] }
        for entry in entries where entry.payload.count + LogEntry.fixedSize > maximumEntrySize {
            throw LogError.recordTooLarge(length: entry.payload.count + LogEntry.fixedSize, maximum: maximumEntrySize)
        }
        guard let writer else { throw LogStoreError.closed }
        if let written = try writer.writeIfIdle(entries) { return written }
        return try await withCheckedThrowingContinuation { c in
            let items = entries.enumerated().map { i, entry in
                LogWriter.Pending(type: entry.type, payload: entry.payload,
                                  completion: i == entries.count - 1 ? .batch(c, count: entries.count) : .none)
            }
            writer.enqueue(items) { c.resume(throwing: $0) }
        }
    }

    /// Signs a checkpoint of `signer`'s log (origin "iias:center:SIGNER/log", or its `epoch`'s
    /// successor, also the note's key name) of the entries before this one (tree size = this entry's own
    /// index, root over entries 0..<index) as a C2SP signed note, appends the note as an
    /// entry of type `treeHead`, then writes it to `DIR/checkpoint` atomically (temp file,
    /// fsync, rename, directory fsync). Returns the signed checkpoint.
    @discardableResult
    public func appendTreeHead(signer: String, key: SigningPrivateKey, epoch: Int = 1) async throws -> Checkpoint {
        guard let writer else { throw LogStoreError.closed }
        let origin = Checkpoint.origin(center: signer, epoch: epoch)
        let box = NoteBox()
        let make: @Sendable (UInt64, [UInt8]) -> [UInt8] = { size, root in
            let checkpoint = Checkpoint(origin: origin, treeSize: size, rootHash: root)
            let note = checkpoint.signedNote(key: key)
            box.set(checkpoint, note)
            return Array(note.utf8)
        }
        _ = try await withCheckedThrowingContinuation { (c: CheckedContinuation<UInt64, any Error>) in
            writer.enqueue([LogWriter.Pending(type: .treeHead, payload: [], makePayload: make, completion: .single(c))]) {
                c.resume(throwing: $0)
            }
        }
        let (checkpoint, note) = box.get()
        try writeCheckpointFile(Array(note.utf8))
        return checkpoint
    }

    /// Name of the file holding the newest signed tree head (a signed note).
    public static let checkpointFileName = "checkpoint"

    func writeCheckpointFile(_ bytes: [UInt8]) throws {
        checkpointLock.lock(); defer { checkpointLock.unlock() }
        try DurableFile.write(bytes, to: directory + "/" + Self.checkpointFileName)
    }
}
