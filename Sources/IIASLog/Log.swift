import Foundation
import IIASCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Why a log directory could not be opened or written.
public enum LogStoreError: Error, Equatable, CustomStringConvertible {
    /// A record before the tail is damaged: the log refuses to open.
    case corrupt(segment: String, offset: Int, reason: String)
    /// A segment header is wrong, or a segment is missing or out of order.
    case badSegment(segment: String, reason: String)
    /// A system call failed.
    case io(String, errno: Int32)
    /// The log is closed.
    case closed

    public var description: String {
        switch self {
        case let .corrupt(segment, offset, reason): "\(segment) at offset \(offset): \(reason)"
        case let .badSegment(segment, reason): "\(segment): \(reason)"
        case let .io(what, errno): "\(what): \(String(cString: strerror(errno)))"
        case .closed: "log is closed"
        }
    }
}

/// An append-only log of entries in segment files, with group commit: appends
/// return after the fdatasync that made them durable; concurrent appends share one
/// sync. One dedicated writer thread owns the files. The Merkle tree (RFC 9162) is
/// kept in memory and rebuilt at open (this version does not persist a hashes file).
public final class LogStore: @unchecked Sendable {
    /// Segment header: magic "IIASLOG\0", format version u32 BE, first index u64 BE.
    public static let magic: [UInt8] = Array("IIASLOG\0".utf8)
    public static let version: UInt32 = 1
    public static let segmentHeaderSize = 20

    /// Bytes cut from a torn tail at open, and where (nil if none).
    public private(set) var truncatedTail: (segment: String, offset: Int, bytes: Int)?

    let directory: String
    let readOnly: Bool
    let segmentSize: Int
    let maximumEntrySize: Int
    private let condition = NSCondition()
    private struct Pending {
        let type: EntryType
        let payload: [UInt8]
        /// For a tree head: builds the payload from (its own index = tree size, root at that size).
        var makePayload: (@Sendable (UInt64, [UInt8]) -> [UInt8])? = nil
        let continuation: CheckedContinuation<UInt64, any Error>
    }
    private var pending: [Pending] = []
    private var closed = false
    private var tree = InMemoryMerkleTree()
    private var locations: [(segment: Int, offset: Int)] = []
    private var envelopeIndex: [UUID: UInt64] = [:]
    private var segments: [(name: String, first: UInt64, fd: Int32)] = []
    private var writeFD: Int32 = -1
    private var writeOffset = 0
    private var thread: Thread?

    /// `readOnly` (for auditors): nothing is created, truncated or appended; a torn tail is only reported.
    public init(directory: String, segmentSize: Int = 64 << 20, maximumEntrySize: Int = 16 << 20, readOnly: Bool = false) throws {
        self.readOnly = readOnly
        self.directory = directory
        self.segmentSize = segmentSize
        self.maximumEntrySize = maximumEntrySize
        if !readOnly { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try recover()
        if readOnly { closed = true; return }
        // The thread holds the store strongly until close() lets the loop end.
        let t = Thread { self.writerLoop() }
        t.name = "iias-log-writer"
        thread = t
        t.start()
    }

    deinit {
        for s in segments { Glibc.close(s.fd) }
        if writeFD >= 0 { Glibc.close(writeFD) }
    }

    static func segmentName(_ first: UInt64) -> String { String(format: "%020llu.seg", first) }

    private func recover() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.sorted()
        var expected: UInt64 = 0
        for (n, name) in names.enumerated() {
            let path = directory + "/" + name
            let data = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            guard data.count >= Self.segmentHeaderSize, Array(data[0..<8]) == Self.magic,
                  Record.readBE32(data[...], at: 8) == Self.version else {
                throw LogStoreError.badSegment(segment: name, reason: "bad segment header")
            }
            let first = Record.readBE(data[...], at: 12)
            guard first == expected, name == Self.segmentName(first) else {
                throw LogStoreError.badSegment(segment: name, reason: "starts at index \(first), expected \(expected): segment missing or reordered")
            }
            var offset = Self.segmentHeaderSize
            while offset < data.count {
                do {
                    let (entry, size) = try Record.decode(data[offset...], maximumEntrySize: maximumEntrySize)
                    guard entry.index == expected else {
                        throw LogStoreError.corrupt(segment: name, offset: offset, reason: "index \(entry.index), expected \(expected)")
                    }
                    tree.append(leafHash: Merkle.hashLeaf(entry.encoded()))
                    locations.append((n, offset))
                    if let id = Self.envelopeID(of: entry), envelopeIndex[id] == nil { envelopeIndex[id] = entry.index }
                    expected += 1
                    offset += size
                } catch let error as LogError {
                    // Torn tail: only the last record of the last segment may be cut.
                    let isLast = n == names.count - 1
                    let reachesEnd: Bool
                    switch error {
                    case .truncated: reachesEnd = true
                    case .checksumMismatch, .malformedEntry:
                        reachesEnd = data.count - offset == Record.headerSize + Int(Record.readBE32(data[...], at: offset))
                    default: reachesEnd = false
                    }
                    guard isLast, reachesEnd else {
                        throw LogStoreError.corrupt(segment: name, offset: offset, reason: error.description)
                    }
                    guard readOnly || truncate(path, off_t(offset)) == 0 else { throw LogStoreError.io("truncate \(name)", errno: errno) }
                    truncatedTail = (name, offset, data.count - offset)
                    break
                }
            }
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
            segments.append((name, first, fd))
            if n == names.count - 1 && !readOnly {
                writeFD = Glibc.open(path, O_WRONLY | O_CLOEXEC)
                guard writeFD >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
                writeOffset = min(offset, data.count)
                if let cut = truncatedTail, cut.segment == name { writeOffset = cut.offset }
                guard fdatasync(writeFD) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
            }
        }
        if segments.isEmpty && !readOnly { try startSegment(first: 0) }
    }

    private func startSegment(first: UInt64) throws {
        let name = Self.segmentName(first)
        let path = directory + "/" + name
        if writeFD >= 0 { Glibc.close(writeFD) }
        writeFD = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard writeFD >= 0 else { throw LogStoreError.io("create \(name)", errno: errno) }
        var header = Self.magic
        Record.appendBE32(Self.version, to: &header)
        Record.appendBE(first, to: &header)
        try writeAll(header, at: 0)
        guard fdatasync(writeFD) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
        let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); Glibc.close(dfd) }
        writeOffset = header.count
        let rfd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard rfd >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
        condition.lock()
        segments.append((name, first, rfd))
        condition.unlock()
    }

    private func writeAll(_ bytes: [UInt8], at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(writeFD, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 { if errno == EINTR { continue }; throw LogStoreError.io("pwrite", errno: errno) }
            done += n
        }
    }

    /// Appends one entry; returns its index once it is on disk (after fdatasync).
    public func append(type: EntryType, payload: [UInt8]) async throws -> UInt64 {
        guard payload.count + LogEntry.fixedSize <= maximumEntrySize else {
            throw LogError.recordTooLarge(length: payload.count + LogEntry.fixedSize, maximum: maximumEntrySize)
        }
        return try await withCheckedThrowingContinuation { c in
            condition.lock()
            if closed { condition.unlock(); c.resume(throwing: LogStoreError.closed); return }
            pending.append(Pending(type: type, payload: payload, continuation: c))
            condition.signal()
            condition.unlock()
        }
    }

    /// Signs a checkpoint of the entries before this one (tree size = this entry's own
    /// index, root over entries 0..<index) as a C2SP signed note, appends the note as an
    /// entry of type `treeHead`, then writes it to `DIR/checkpoint` atomically (temp file,
    /// fsync, rename, directory fsync). Returns the signed checkpoint.
    @discardableResult
    public func appendTreeHead(signer: String, key: SigningPrivateKey) async throws -> Checkpoint {
        let origin = Checkpoint.origin(center: signer)
        let box = NoteBox()
        let make: @Sendable (UInt64, [UInt8]) -> [UInt8] = { size, root in
            let checkpoint = Checkpoint(origin: origin, treeSize: size, rootHash: root)
            let note = checkpoint.signedNote(name: signer, key: key)
            box.set(checkpoint, note)
            return Array(note.utf8)
        }
        _ = try await withCheckedThrowingContinuation { (c: CheckedContinuation<UInt64, any Error>) in
            condition.lock()
            if closed { condition.unlock(); c.resume(throwing: LogStoreError.closed); return }
            pending.append(Pending(type: .treeHead, payload: [], makePayload: make, continuation: c))
            condition.signal()
            condition.unlock()
        }
        let (checkpoint, note) = box.get()
        try writeCheckpointFile(Array(note.utf8))
        return checkpoint
    }

    /// Name of the file holding the newest signed tree head (a signed note).
    public static let checkpointFileName = "checkpoint"

    private let checkpointLock = NSLock()

    private func writeCheckpointFile(_ bytes: [UInt8]) throws {
        checkpointLock.lock(); defer { checkpointLock.unlock() }
        let path = directory + "/" + Self.checkpointFileName
        let temp = path + ".tmp"
        let fd = Glibc.open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LogStoreError.io("create \(temp)", errno: errno) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 { if errno == EINTR { continue }; let e = errno; Glibc.close(fd); throw LogStoreError.io("write checkpoint", errno: e) }
            done += n
        }
        guard fsync(fd) == 0 else { let e = errno; Glibc.close(fd); throw LogStoreError.io("fsync checkpoint", errno: e) }
        Glibc.close(fd)
        guard rename(temp, path) == 0 else { throw LogStoreError.io("rename checkpoint", errno: errno) }
        let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw LogStoreError.io("open \(directory)", errno: errno) }
        defer { Glibc.close(dfd) }
        guard fsync(dfd) == 0 else { throw LogStoreError.io("fsync directory", errno: errno) }
    }

    private func writerLoop() {
        while true {
            condition.lock()
            while pending.isEmpty && !closed { condition.wait() }
            if pending.isEmpty && closed { condition.unlock(); return }
            let batch = pending
            pending.removeAll()
            condition.unlock()
            var results: [UInt64] = []
            var failure: (any Error)?
            do {
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                var buffer: [UInt8] = []
                var bufferStart = writeOffset
                for item in batch {
                    let index = UInt64(locations.count)
                    var payload = item.payload
                    if let make = item.makePayload { payload = make(index, try tree.rootHash(treeSize: index)) }
                    let entry = LogEntry(index: index, timeMilliseconds: now, type: item.type, payload: payload)
                    let record = Record.encode(entry)
                    if writeOffset > Self.segmentHeaderSize && writeOffset + record.count > segmentSize {
                        try writeAll(buffer, at: bufferStart)
                        buffer.removeAll()
                        guard fdatasync(writeFD) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
                        try startSegment(first: index)
                        bufferStart = writeOffset
                    }
                    let envelopeID = Self.envelopeID(of: entry)  // parsed outside the lock
                    condition.lock()
                    locations.append((segments.count - 1, writeOffset))
                    tree.append(leafHash: Merkle.hashLeaf(entry.encoded()))
                    if let envelopeID, envelopeIndex[envelopeID] == nil { envelopeIndex[envelopeID] = index }
                    condition.unlock()
                    writeOffset += record.count
                    buffer.append(contentsOf: record)
                    results.append(index)
                }
                try writeAll(buffer, at: bufferStart)
                guard fdatasync(writeFD) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
            } catch {
                failure = error
            }
            for (i, item) in batch.enumerated() {
                if let failure { item.continuation.resume(throwing: failure) } else { item.continuation.resume(returning: results[i]) }
            }
        }
    }

    /// Number of entries.
    public var count: UInt64 { condition.lock(); defer { condition.unlock() }; return UInt64(locations.count) }

    /// A snapshot of the Merkle tree.
    public var merkleTree: InMemoryMerkleTree { condition.lock(); defer { condition.unlock() }; return tree }

    /// Reads entry `index` with pread on a reader fd (never blocks the writer's files).
    public func entry(at index: UInt64) throws -> LogEntry {
        condition.lock()
        guard index < UInt64(locations.count) else { condition.unlock(); throw LogError.indexOutOfRange(index: index, treeSize: UInt64(locations.count)) }
        let loc = locations[Int(index)]
        let fd = segments[loc.segment].fd
        condition.unlock()
        var header = [UInt8](repeating: 0, count: Record.headerSize)
        guard pread(fd, &header, header.count, off_t(loc.offset)) == header.count else { throw LogStoreError.io("pread", errno: errno) }
        let length = Int(Record.readBE32(header[...], at: 0))
        guard length <= maximumEntrySize else { throw LogError.recordTooLarge(length: length, maximum: maximumEntrySize) }
        var bytes = [UInt8](repeating: 0, count: Record.headerSize + length)
        guard pread(fd, &bytes, bytes.count, off_t(loc.offset)) == bytes.count else { throw LogStoreError.io("pread", errno: errno) }
        return try Record.decode(bytes[...], maximumEntrySize: maximumEntrySize).entry
    }

    /// The envelope id of a sent/received/receipt entry for the lookup map (the first
    /// entry of an id wins); payloads of other types, or that are not envelopes, give nil.
    private static func envelopeID(of entry: LogEntry) -> UUID? {
        switch entry.type {
        case .sent, .received, .receipt: (try? Envelope(parsing: entry.payload))?.id
        case .treeHead, .operatorAction: nil
        }
    }

    /// The index of the first sent/received/receipt entry holding the envelope `id`, or nil.
    public func index(ofEnvelopeID id: UUID) -> UInt64? {
        condition.lock(); defer { condition.unlock() }
        return envelopeIndex[id]
    }

    /// The entries from `start` up to the current end (a snapshot of the count), read
    /// lazily one at a time. A read error ends the iteration; it is then in `error`.
    public func entries(from start: UInt64 = 0) -> LogEntries {
        LogEntries(log: self, start: start, end: count)
    }

    /// Where entry `index` is stored (segment file name, byte offset of its record), for error messages.
    public func location(of index: UInt64) -> (segment: String, offset: Int)? {
        condition.lock(); defer { condition.unlock() }
        guard index < UInt64(locations.count) else { return nil }
        let loc = locations[Int(index)]
        return (segments[loc.segment].name, loc.offset)
    }

    /// Stops the writer after the pending appends; later appends throw `.closed`.
    public func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
    }
}

/// Carries the checkpoint built on the writer thread back to `appendTreeHead`.
private final class NoteBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (Checkpoint, String)?
    func set(_ c: Checkpoint, _ n: String) { lock.lock(); value = (c, n); lock.unlock() }
    func get() -> (Checkpoint, String) { lock.lock(); defer { lock.unlock() }; return value! }
}

/// Entries of a log read lazily in index order; see `LogStore.entries(from:)`.
public struct LogEntries: Sequence {
    let log: LogStore
    let start: UInt64
    let end: UInt64
    private let failure = FailureBox()

    init(log: LogStore, start: UInt64, end: UInt64) {
        self.log = log
        self.start = start
        self.end = end
    }

    /// The read error that ended the last iteration early, if any.
    public var error: (any Error)? { failure.error }

    public struct Iterator: IteratorProtocol {
        let log: LogStore
        var position: UInt64
        let end: UInt64
        let failure: FailureBox

        public mutating func next() -> LogEntry? {
            guard position < end else { return nil }
            do {
                let entry = try log.entry(at: position)
                position += 1
                return entry
            } catch {
                failure.error = error
                position = end
                return nil
            }
        }
    }

    public func makeIterator() -> Iterator { Iterator(log: log, position: start, end: end, failure: failure) }
}

final class FailureBox: @unchecked Sendable {
    var error: (any Error)?
}
