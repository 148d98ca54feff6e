import Foundation
import IIASCrypto
#if canImport(Glibc)
import Glibc
#endif

/// The group-commit writer of a writable ``LogStore``: the one owner of the active
/// segment's write descriptor, of the `hashes`/`index` caches it writes and of the
/// condition appenders queue on. One batch is written at a time — by the appender itself
/// when the log is idle, otherwise by the writer thread, which takes all that queued — and
/// only its writer touches these files. Readers never wait on this condition: the store
/// keeps what they share (locations, segments, the tree's right edge) under its own lock,
/// and the writer publishes to it after each fdatasync. Open fills the caches and hands
/// the writer the active segment's descriptor before its thread starts.
final class LogWriter: @unchecked Sendable {
    struct Pending {
        let type: EntryType
        let payload: [UInt8]
        /// For a tree head: builds the payload from (its own index = tree size, root at that size).
        var makePayload: (@Sendable (UInt64, [UInt8]) -> [UInt8])? = nil
        let completion: Completion
    }

    /// Who is waiting for an entry: its own appender, or (on the last entry of an
    /// `append(_:)` batch) the batch's appender, for `count` consecutive entries.
    enum Completion {
        case single(CheckedContinuation<UInt64, any Error>)
        case batch(CheckedContinuation<[LogEntry], any Error>, count: Int)
        case none
    }

    /// Not retained: the store owns its writer; the writer thread holds the store until close.
    unowned let store: LogStore
    let condition = NSCondition()
    // Under `condition`:
    var pending: [Pending] = []
    /// A batch is being written, by the writer thread or by an appender that found the
    /// log idle; whoever holds it alone touches the files, offsets and caches.
    var writing = false
    /// The last fdatasync took longer than `slowSync`: appenders then leave
    /// the writing to the writer thread, so that a stalling disk blocks no caller's
    /// thread (the node's actor, for one) for longer than one sync.
    var syncsAreSlow = false
    var callerBatches: UInt64 = 0
    var closed = false

    // Touched only by whoever holds `writing` (and by open, before the thread starts):
    /// The active segment, opened for writing, and its number in the store's segments.
    var fd: Int32 = -1
    var segment = 0
    var offset = 0
    /// The active segment's size: its records, then zeros written ahead of them (see `preallocate`).
    var allocatedEnd = 0
    /// Set when zeros could not be written (a full disk): none until the next segment.
    var preallocationFailed = false
    var caches = LogCacheFiles(hashesFD: -1, indexFD: -1, hashesOffset: 0, indexOffset: 0)

    /// The store's directory and segment size, copied: the per-entry path reads no store field.
    let directory: String
    let segmentSize: Int
    /// Zeros written ahead of the records, at most this many bytes at a time; 0: none.
    let preallocation: Int
    let slowSyncNanoseconds: UInt64
    var thread: Thread?
    /// Signalled once by the writer thread as it ends (what `close` waits for).
    let finished = DispatchSemaphore(value: 0)

    init(store: LogStore, preallocation: Int, slowSync: Duration) {
        self.store = store
        directory = store.directory
        segmentSize = store.segmentSize
        self.preallocation = max(0, preallocation)
        slowSyncNanoseconds = UInt64(max(0, slowSync.components.seconds)) * 1_000_000_000 + UInt64(max(0, slowSync.components.attoseconds / 1_000_000_000))
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        caches.close()
    }

    /// Takes the active segment's write descriptor from open (segment number `segment`),
    /// where its records end and the file's size (zeros written ahead of them included),
    /// and makes it durable.
    func adopt(fd: Int32, segment: Int, offset: Int, allocatedEnd: Int) throws {
        self.fd = fd
        self.segment = segment
        self.offset = offset
        self.allocatedEnd = allocatedEnd
        guard fdatasync(fd) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
    }

    /// Starts the writer thread, which holds the store strongly until `close` lets it end.
    func start() {
        let store = self.store
        let t = Thread { self.run(); withExtendedLifetime(store) {} }
        t.name = "iias-log-writer"
        thread = t
        t.start()
    }

    /// Stops the writer after the pending appends and waits until it has left the files
    /// as a clean close does; later appends throw `.closed`.
    func close() {
        condition.lock()
        let first = !closed
        closed = true
        condition.signal()
        condition.unlock()
        if first, thread != nil { finished.wait() }
    }

    var batchesWrittenByCallers: UInt64 { condition.lock(); defer { condition.unlock() }; return callerBatches }

    /// Starts the next segment; the current one stays the write target until the new
    /// one's header is durable, so a failure (a full disk) leaves the log as it was.
    func startSegment(first: UInt64) throws {
        let name = LogStore.segmentName(first)
        let path = directory + "/" + name
        let next = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard next >= 0 else { throw LogStoreError.io("create \(name)", errno: errno) }
        var header = LogStore.magic
        Record.appendBE32(LogStore.version, to: &header)
        Record.appendBE(first, to: &header)
        do {
            try Self.writeAll(header, at: 0, fd: next)
            guard fdatasync(next) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
        } catch {
            Glibc.close(next)
            unlink(path)
            throw error
        }
        if fd >= 0 {
            // A closed segment ends at its last record (zeros left by a crash here are harmless).
            if allocatedEnd > offset { _ = ftruncate(fd, off_t(offset)) }
            Glibc.close(fd)
        }
        fd = next
        let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); Glibc.close(dfd) }
        offset = header.count
        allocatedEnd = header.count
        preallocationFailed = false
        let rfd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard rfd >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
        segment = store.addSegment(name: name, first: first, readFD: rfd)
    }

    static func writeAll(_ bytes: [UInt8], at offset: Int, fd: Int32) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 { if errno == EINTR { continue }; throw LogStoreError.io("pwrite", errno: errno) }
            done += n
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
        guard fstatvfs(fd, &space) == 0, Int(space.f_bavail) * Int(space.f_frsize) > 2 * (target - end) else {
            preallocationFailed = true
            return
        }
        do {
            try Self.writeAll([UInt8](repeating: 0, count: target - end), at: end, fd: fd)
            allocatedEnd = target
        } catch {
            preallocationFailed = true
            _ = ftruncate(fd, off_t(allocatedEnd))
        }
    }

    /// Queues entries for the writer thread and wakes it; after a close, calls `fail`
    /// with `.closed` instead.
    func enqueue(_ items: [Pending], failing fail: (any Error) -> Void) {
        condition.lock()
        if closed { condition.unlock(); fail(LogStoreError.closed); return }
        pending.append(contentsOf: items)
        condition.signal()
        condition.unlock()
    }

    /// The writer thread: takes everything queued as one batch whenever no appender is writing.
    func run() {
        while true {
            condition.lock()
            // An appender writing its own entries (see `append(_:)`) has the files until it is done.
            while (pending.isEmpty && !closed) || writing { condition.wait() }
            if pending.isEmpty && closed {
                condition.unlock()
                if caches.hashesFD >= 0 && !store.cachesBroken { try? caches.sync() }   // a clean close leaves the caches durable
                // ...and the segment ending at its last record.
                if fd >= 0, allocatedEnd > offset, ftruncate(fd, off_t(offset)) == 0 { allocatedEnd = offset }
                // Another store may open the log from now on.
                store.releaseDirectoryLock()
                finished.signal()
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
        var chunkStart = offset
        // Hashing, encoding and parsing happen outside the lock the appenders take to
        // enqueue; a chunk is published under it once, after its fdatasync.
        var staged: [(position: Int, segment: Int, offset: Int, leaf: [UInt8], index: UInt64)] = []
        // Only this writer changes the store's locations and frontier: it reads them without the lock.
        var nextIndex = UInt64(store.locations.count)

        func flush() throws {
            guard !staged.isEmpty else { return }
            do {
                if chunkStart + buffer.count > allocatedEnd { preallocate(past: chunkStart + buffer.count) }
                try Self.writeAll(buffer, at: chunkStart, fd: fd)
                allocatedEnd = max(allocatedEnd, chunkStart + buffer.count)
                let syncStart = DispatchTime.now().uptimeNanoseconds
                let syncError = fdatasync(fd) == 0 ? 0 : errno
                let syncNanoseconds = DispatchTime.now().uptimeNanoseconds - syncStart
                condition.lock()
                syncsAreSlow = syncNanoseconds > slowSyncNanoseconds
                condition.unlock()
                guard syncError == 0 else { throw LogStoreError.io("fdatasync", errno: syncError) }
                store.syncObserver?(Double(syncNanoseconds) / 1e9, staged.count)
            } catch {
                _ = ftruncate(fd, off_t(chunkStart))
                offset = chunkStart
                allocatedEnd = chunkStart
                throw error
            }
            let (hashBuffer, indexBuffer) = store.publish(staged.map { ($0.segment, $0.offset, $0.leaf) })
            for item in staged { results[item.position] = item.index }
            // The caches are derived: written now, synced with tree heads and at close,
            // checked at open. A failure to write them only stops using them until reopen.
            if !store.cachesBroken {
                do { try caches.append(hashes: hashBuffer, index: indexBuffer) } catch { store.markCachesBroken() }
            }
            store.publishHashedCount()
            staged.removeAll(keepingCapacity: true)
            buffer.removeAll(keepingCapacity: true)
            chunkStart = offset
        }

        do {
            for (position, item) in batch.enumerated() {
                let index = nextIndex
                var payload = item.payload
                if let make = item.makePayload {
                    try flush()
                    payload = make(index, store.frontier.rootHash)
                }
                let entry = LogEntry(index: index, timeMilliseconds: now, type: item.type, payload: payload)
                let recordSize = Record.headerSize + LogEntry.fixedSize + payload.count
                if offset > LogStore.segmentHeaderSize && offset + recordSize > segmentSize {
                    try flush()
                    try startSegment(first: index)
                    chunkStart = offset
                }
                let body = Record.append(entry, to: &buffer)
                staged.append((position, segment, offset, Merkle.hashLeaf(buffer[body]), index))
                offset += recordSize
                nextIndex += 1
            }
            try flush()
            if batch.contains(where: { $0.type == .treeHead }), !store.cachesBroken { try caches.sync() }
            return (results, now, nil)
        } catch {
            return (results, now, error)
        }
    }
}
