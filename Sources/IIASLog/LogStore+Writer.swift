import Foundation
import IIASCrypto
#if canImport(Glibc)
import Glibc
#endif

// Appending: group commit with a leader, the writer thread, segments and their zeros written ahead, signed tree heads.
extension LogStore {
    /// Starts the next segment; the current one stays the write target until the new
    /// one's header is durable, so a failure (a full disk) leaves the log as it was.
    func startSegment(first: UInt64) throws {
        let name = Self.segmentName(first)
        let path = directory + "/" + name
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LogStoreError.io("create \(name)", errno: errno) }
        var header = Self.magic
        Record.appendBE32(Self.version, to: &header)
        Record.appendBE(first, to: &header)
        do {
            try writeAll(header, at: 0, fd: fd)
            guard fdatasync(fd) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
        } catch {
            Glibc.close(fd)
            unlink(path)
            throw error
        }
        if writeFD >= 0 {
            // A closed segment ends at its last record (zeros left by a crash here are harmless).
            if allocatedEnd > writeOffset { _ = ftruncate(writeFD, off_t(writeOffset)) }
            Glibc.close(writeFD)
        }
        writeFD = fd
        let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); Glibc.close(dfd) }
        writeOffset = header.count
        allocatedEnd = header.count
        preallocationFailed = false
        let rfd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard rfd >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
        condition.lock()
        segments.append((name, first, rfd))
        condition.unlock()
    }

    func writeAll(_ bytes: [UInt8], at offset: Int, fd: Int32? = nil) throws {
        let fd = fd ?? writeFD
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 { if errno == EINTR { continue }; throw LogStoreError.io("pwrite", errno: errno) }
            done += n
        }
    }

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
        if let written = try writeIfIdle(entries) { return written }
        return try await withCheckedThrowingContinuation { c in
            condition.lock()
            if closed { condition.unlock(); c.resume(throwing: LogStoreError.closed); return }
            for (i, entry) in entries.enumerated() {
                let completion: Completion = i == entries.count - 1 ? .batch(c, count: entries.count) : .none
                pending.append(Pending(type: entry.type, payload: entry.payload, completion: completion))
            }
            condition.signal()
            condition.unlock()
        }
    }

    /// Writes `entries` at once on this thread if no batch is being written and none
    /// waits; nil (nothing done) otherwise.
    func writeIfIdle(_ entries: [(type: EntryType, payload: [UInt8])]) throws -> [LogEntry]? {
        condition.lock()
        if closed { condition.unlock(); throw LogStoreError.closed }
        guard !writing && pending.isEmpty && !syncsAreSlow else { condition.unlock(); return nil }
        writing = true
        callerBatches += 1
        condition.unlock()
        let batch = entries.map { Pending(type: $0.type, payload: $0.payload, completion: .none) }
        let (results, time, failure) = write(batch)
        condition.lock()
        writing = false
        // Only when the writer thread has work (or a close) waiting: waking it for nothing
        // costs two context switches and a contended lock on every idle append.
        let wake = !pending.isEmpty || closed
        condition.unlock()
        if wake { condition.signal() }
        let written = zip(batch, results).compactMap { item, index in
            index.map { LogEntry(index: $0, timeMilliseconds: time, type: item.type, payload: item.payload) }
        }
        guard written.count == batch.count else { throw failure ?? LogStoreError.closed }
        return written
    }

    /// Signs a checkpoint of `signer`'s log (origin "iias:center:SIGNER/log", also the note's
    /// key name) of the entries before this one (tree size = this entry's own
    /// index, root over entries 0..<index) as a C2SP signed note, appends the note as an
    /// entry of type `treeHead`, then writes it to `DIR/checkpoint` atomically (temp file,
    /// fsync, rename, directory fsync). Returns the signed checkpoint.
    @discardableResult
    public func appendTreeHead(signer: String, key: SigningPrivateKey) async throws -> Checkpoint {
        let origin = Checkpoint.origin(center: signer)
        let box = NoteBox()
        let make: @Sendable (UInt64, [UInt8]) -> [UInt8] = { size, root in
            let checkpoint = Checkpoint(origin: origin, treeSize: size, rootHash: root)
            let note = checkpoint.signedNote(key: key)
            box.set(checkpoint, note)
            return Array(note.utf8)
        }
        _ = try await withCheckedThrowingContinuation { (c: CheckedContinuation<UInt64, any Error>) in
            condition.lock()
            if closed { condition.unlock(); c.resume(throwing: LogStoreError.closed); return }
            pending.append(Pending(type: .treeHead, payload: [], makePayload: make, completion: .single(c)))
            condition.signal()
            condition.unlock()
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

    /// Bytes of zeros written ahead of the records at a time (1 MiB: an extra write every
    /// thousand or so 1 KiB entries).
    public static let defaultPreallocation = 1 << 20

    /// Writes zeros ahead of the records up to `preallocation` bytes past `end` (not past
    /// the segment's size), so that the appends after it overwrite blocks the file already
    /// has: their fdatasync then makes data durable, not a new size and new extents as well
    /// — half the time of an extending write on the disks measured. The zeros' own size
    /// change rides on the fdatasync of the batch that wrote them. Best effort: with less
    /// free space than twice that, or after a failed write of zeros (a full disk), appends
    /// extend the file, as without it. Open reads zeros after the last record as this, not
    /// as a torn tail; a clean close and a new segment cut them off.
    func preallocate(past end: Int) {
        guard preallocation > 0, !preallocationFailed else { return }
        let target = max(end, min(segmentSize, end + preallocation))
        guard target > end else { return }
        var space = statvfs()
        guard fstatvfs(writeFD, &space) == 0, Int(space.f_bavail) * Int(space.f_frsize) > 2 * (target - end) else {
            preallocationFailed = true
            return
        }
        do {
            try writeAll([UInt8](repeating: 0, count: target - end), at: end)
            allocatedEnd = target
        } catch {
            preallocationFailed = true
            _ = ftruncate(writeFD, off_t(allocatedEnd))
        }
    }

    func writerLoop() {
        while true {
            condition.lock()
            // An appender writing its own entries (see `append(_:)`) has the files until it is done.
            while (pending.isEmpty && !closed) || writing { condition.wait() }
            if pending.isEmpty && closed {
                condition.unlock()
                if hashesFD >= 0 && !cachesBroken { try? syncSide() }   // a clean close leaves the caches durable
                // ...and the segment ending at its last record.
                if writeFD >= 0, allocatedEnd > writeOffset, ftruncate(writeFD, off_t(writeOffset)) == 0 { allocatedEnd = writeOffset }
                // Another store may open the log from now on.
                if lockFD >= 0 { Glibc.close(lockFD); lockFD = -1 }
                writerFinished.signal()
                return
            }
            let batch = pending
            pending.removeAll()
            writing = true
            condition.unlock()
            let (results, time, failure) = write(batch)
            condition.lock()
            writing = false
            condition.unlock()
            for (i, item) in batch.enumerated() {
                switch item.completion {
                case .single(let c):
                    if let index = results[i] { c.resume(returning: index) } else { c.resume(throwing: failure ?? LogStoreError.closed) }
                case .batch(let c, let count):
                    let first = i - count + 1
                    let written = (first...i).compactMap { j in
                        results[j].map { LogEntry(index: $0, timeMilliseconds: time, type: batch[j].type, payload: batch[j].payload) }
                    }
                    if written.count == count { c.resume(returning: written) } else { c.resume(throwing: failure ?? LogStoreError.closed) }
                case .none:
                    break
                }
            }
        }
    }

    /// Writes one batch in chunks — everything up to a segment roll or a tree head — each
    /// made durable by one fdatasync *before* it becomes visible (locations, tree, lookups),
    /// so a failed write (a full disk) leaves no trace: the segment is cut back to where the
    /// chunk began and the chunk's appenders get the error. Returns each item's index, nil
    /// for those that were not written, and the time every entry of the batch carries.
    func write(_ batch: [Pending]) -> (results: [UInt64?], time: Int64, failure: (any Error)?) {
        var results = [UInt64?](repeating: nil, count: batch.count)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(batch.reduce(0) { $0 + Record.headerSize + LogEntry.fixedSize + $1.payload.count } + 256)
        var chunkStart = writeOffset
        // Hashing, encoding and parsing happen outside the lock the appenders take to
        // enqueue; a chunk is published under it once, after its fdatasync.
        var staged: [(position: Int, segment: Int, offset: Int, leaf: [UInt8], index: UInt64)] = []
        var nextIndex = UInt64(locations.count)

        func flush() throws {
            guard !staged.isEmpty else { return }
            do {
                if chunkStart + buffer.count > allocatedEnd { preallocate(past: chunkStart + buffer.count) }
                try writeAll(buffer, at: chunkStart)
                allocatedEnd = max(allocatedEnd, chunkStart + buffer.count)
                let syncStart = DispatchTime.now().uptimeNanoseconds
                let syncError = fdatasync(writeFD) == 0 ? 0 : errno
                let syncNanoseconds = DispatchTime.now().uptimeNanoseconds - syncStart
                condition.lock()
                syncsAreSlow = syncNanoseconds > slowSyncNanoseconds
                condition.unlock()
                guard syncError == 0 else { throw LogStoreError.io("fdatasync", errno: syncError) }
                syncObserver?(Double(syncNanoseconds) / 1e9, staged.count)
            } catch {
                _ = ftruncate(writeFD, off_t(chunkStart))
                writeOffset = chunkStart
                allocatedEnd = chunkStart
                throw error
            }
            var hashBuffer: [UInt8] = []
            var indexBuffer: [UInt8] = []
            condition.lock()
            for item in staged {
                locations.append(Self.packLocation(item.segment, item.offset))
                hashBuffer.append(contentsOf: item.leaf)
                for parent in frontier.append(leafHash: item.leaf) { hashBuffer.append(contentsOf: parent) }
                Record.appendBE(UInt64(item.segment), to: &indexBuffer)
                Record.appendBE(UInt64(item.offset), to: &indexBuffer)
            }
            condition.unlock()
            for item in staged { results[item.position] = item.index }
            // The caches are derived: written now, synced with tree heads and at close,
            // checked at open. A failure to write them only stops using them until reopen.
            if !cachesBroken {
                do { try writeSide(hashBuffer, indexBuffer) } catch { cachesBroken = true }
            }
            condition.lock()
            hashedCount = UInt64(locations.count)
            condition.unlock()
            staged.removeAll(keepingCapacity: true)
            buffer.removeAll(keepingCapacity: true)
            chunkStart = writeOffset
        }

        do {
            for (position, item) in batch.enumerated() {
                let index = nextIndex
                var payload = item.payload
                if let make = item.makePayload {
                    try flush()
                    payload = make(index, frontier.rootHash)
                }
                let entry = LogEntry(index: index, timeMilliseconds: now, type: item.type, payload: payload)
                let recordSize = Record.headerSize + LogEntry.fixedSize + payload.count
                if writeOffset > Self.segmentHeaderSize && writeOffset + recordSize > segmentSize {
                    try flush()
                    try startSegment(first: index)
                    chunkStart = writeOffset
                }
                let body = Record.append(entry, to: &buffer)
                staged.append((position, segments.count - 1, writeOffset, Merkle.hashLeaf(buffer[body]), index))
                writeOffset += recordSize
                nextIndex += 1
            }
            try flush()
            if batch.contains(where: { $0.type == .treeHead }), !cachesBroken { try syncSide() }
            return (results, now, nil)
        } catch {
            return (results, now, error)
        }
    }
}
