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
    /// The stored hashes disagree with the `checkpoint` file: the log refuses to open.
    case inconsistent(String)
    /// The log is closed.
    case closed
    /// Another store has the directory open for writing (a second node on the same data).
    case inUse(directory: String)

    public var description: String {
        switch self {
        case let .corrupt(segment, offset, reason): "\(segment) at offset \(offset): \(reason)"
        case let .badSegment(segment, reason): "\(segment): \(reason)"
        case let .io(what, errno): "\(what): \(String(cString: strerror(errno)))"
        case let .inconsistent(why): why
        case .closed: "log is closed"
        case let .inUse(directory): "\(directory) is open for writing in another process (is a node already running on this data directory?)"
        }
    }
}

/// An append-only log of entries in segment files, with group commit: appends
/// return after the fdatasync that made them durable; concurrent appends share one
/// sync, written by the store's ``LogWriter``. The Merkle tree (RFC 9162) is
/// persisted in `hashes` (tlog stored-hash order) and record locations in `index`, so
/// open trusts the prefix they cover and reads only the records after it; a read-only
/// open (the auditor's `iias log verify`) ignores both files and scans every record.
public final class LogStore: @unchecked Sendable {
    /// Segment header: magic "IIASLOG\0", format version u32 BE, first index u64 BE.
    public static let magic: [UInt8] = Array("IIASLOG\0".utf8)
    public static let version: UInt32 = 1
    public static let segmentHeaderSize = 20

    /// Bytes cut from a torn tail at open, and where (nil if none).
    public internal(set) var truncatedTail: (segment: String, offset: Int, bytes: Int)?

    let directory: String
    let readOnly: Bool
    let segmentSize: Int
    let maximumEntrySize: Int
    /// Guards what readers share with the writer: locations, segments, the frontier,
    /// `hashedCount` and `cachesBroken`. Only the writer changes them after open.
    let stateLock = NSLock()
    /// Owns the write descriptors and the appenders' queue; nil for a read-only store.
    var writer: LogWriter?
    /// Batches their own appender wrote (the rest the writer thread did): how often the
    /// idle-log path is taken.
    public var batchesWrittenByCallers: UInt64 { writer?.batchesWrittenByCallers ?? 0 }
    /// The tree's right edge (O(log n) hashes): what appends and tree heads need. Roots
    /// and proofs at other sizes come from the `hashes` file.
    var frontier = MerkleFrontier()
    /// The whole tree, for a read-only store only: an auditor's open reads every record
    /// and has no trusted `hashes` file to prove from.
    var auditTree: InMemoryMerkleTree?
    /// Where each entry's record is: segment number << 40 | byte offset (8 bytes an entry).
    var locations: [UInt64] = []
    /// Every segment, each with a descriptor of its own for readers.
    var segments: [(name: String, first: UInt64, fd: Int32)] = []
    /// Holds an exclusive flock on `DIR/lock` while the store is open for writing: two
    /// writers of one log would cut each other's tails and caches.
    var lockFD: Int32 = -1
    /// The file a writable store holds an exclusive flock on (empty).
    public static let lockFileName = "lock"
    /// Stored Merkle hashes, 32 bytes each, in golang.org/x/mod/sumdb/tlog order.
    public static let hashesFileName = "hashes"
    /// Per entry: segment number u64 BE, record offset u64 BE.
    public static let indexFileName = "index"
    static let indexEntrySize = 16
    /// The `hashes` file opened for reading (proofs); the writer writes through its own.
    var hashesFD: Int32 = -1
    /// Set when writing the hashes/index caches failed: they are not used (nor synced)
    /// until the next open rebuilds them.
    var cachesBroken = false
    /// Entries taken from the hashes and index files at open: their records were not read.
    public internal(set) var trustedPrefix: UInt64 = 0
    /// Called on the writing thread after each batch's fdatasync with its duration in
    /// seconds and the number of entries it made durable (metrics). Set it before the
    /// first append.
    nonisolated(unsafe) public var syncObserver: (@Sendable (_ seconds: Double, _ entries: Int) -> Void)?
    /// Set when open found the hashes/index caches inconsistent and rebuilt them from
    /// the segments (reported by the node at start-up; the log itself is intact).
    public internal(set) var rejectedCaches: String?
    /// Entries whose stored hashes are written to the hashes file.
    var hashedCount: UInt64 = 0
    /// Serializes writes of the `checkpoint` file.
    let checkpointLock = NSLock()

    /// Bytes of zeros written ahead of the records at a time (1 MiB: an extra write every
    /// thousand or so 1 KiB entries).
    public static let defaultPreallocation = 1 << 20

    /// `readOnly` (for auditors): nothing is created, truncated or appended; a torn tail is only reported.
    /// `slowSync`: an fdatasync longer than this sends appends to the writer thread (see `append(_:)`).
    /// `preallocation`: bytes of zeros written ahead of the records at a time (see `LogWriter.preallocate`).
    public init(directory: String, segmentSize: Int = 64 << 20, maximumEntrySize: Int = 16 << 20, readOnly: Bool = false,
                slowSync: Duration = .milliseconds(5), preallocation: Int = LogStore.defaultPreallocation) throws {
        self.readOnly = readOnly
        self.directory = directory
        self.segmentSize = segmentSize
        self.maximumEntrySize = maximumEntrySize
        if readOnly { auditTree = InMemoryMerkleTree() }
        if !readOnly {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            lockFD = Glibc.open(directory + "/" + Self.lockFileName, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard lockFD >= 0 else { throw LogStoreError.io("open \(Self.lockFileName)", errno: errno) }
            guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
                Glibc.close(lockFD)
                throw errno == EWOULDBLOCK ? LogStoreError.inUse(directory: directory) : LogStoreError.io("flock \(Self.lockFileName)", errno: errno)
            }
            writer = LogWriter(store: self, preallocation: preallocation, slowSync: slowSync)
        }
        do { try recover() } catch {
            releaseDirectoryLock()
            throw error
        }
        writer?.start()
    }

    deinit {
        if lockFD >= 0 { Glibc.close(lockFD) }
        for s in segments { Glibc.close(s.fd) }
        if hashesFD >= 0 { Glibc.close(hashesFD) }
    }

    /// Number of stored hashes of a tree of `n` leaves (tlog: 2n - popcount(n)).
    static func storedHashCount(_ n: UInt64) -> Int { Int(2 * n) - n.nonzeroBitCount }

    /// Stops the writer after the pending appends and waits until it has left the files
    /// as a clean close does (caches synced, the segment cut back to its last record);
    /// later appends throw `.closed`.
    public func close() {
        writer?.close()
    }

    /// Lets another store open the directory for writing (the writer's last step at close).
    func releaseDirectoryLock() {
        if lockFD >= 0 { Glibc.close(lockFD); lockFD = -1 }
    }

    /// Makes a new segment visible to readers (the writer has made its header durable);
    /// returns its number.
    func addSegment(name: String, first: UInt64, readFD: Int32) -> Int {
        stateLock.lock(); defer { stateLock.unlock() }
        segments.append((name, first, readFD))
        return segments.count - 1
    }

    /// Makes records visible once their fdatasync returned: their locations and leaves
    /// join the index and the tree. Returns the bytes the caches get for them (stored
    /// hashes, index entries).
    func publish(_ records: [(segment: Int, offset: Int, leaf: [UInt8])]) -> (hashes: [UInt8], index: [UInt8]) {
        var hashes: [UInt8] = []
        var index: [UInt8] = []
        stateLock.lock()
        for record in records {
            locations.append(Self.packLocation(record.segment, record.offset))
            hashes.append(contentsOf: record.leaf)
            for parent in frontier.append(leafHash: record.leaf) { hashes.append(contentsOf: parent) }
            Record.appendBE(UInt64(record.segment), to: &index)
            Record.appendBE(UInt64(record.offset), to: &index)
        }
        stateLock.unlock()
        return (hashes, index)
    }

    /// The `hashes` file holds every published entry's stored hashes (or is broken).
    func publishHashedCount() {
        stateLock.lock()
        hashedCount = UInt64(locations.count)
        stateLock.unlock()
    }

    /// Stops roots and proofs from using the caches until a reopen rebuilds them.
    func markCachesBroken() {
        stateLock.lock()
        cachesBroken = true
        stateLock.unlock()
    }
}

/// Carries the checkpoint built while writing back to `appendTreeHead`.
final class NoteBox: @unchecked Sendable {
    let lock = NSLock()
    var value: (Checkpoint, String)?
    func set(_ c: Checkpoint, _ n: String) { lock.lock(); value = (c, n); lock.unlock() }
    func get() -> (Checkpoint, String) { lock.lock(); defer { lock.unlock() }; return value! }
}

/// Entries of a log read lazily in index order; see `LogStore.entries(from:)`.
public struct LogEntries: Sequence {
    let log: LogStore
    let start: UInt64
    let end: UInt64
    let failure = FailureBox()

    init(log: LogStore, start: UInt64, end: UInt64) {
        self.log = log
        self.start = start
        self.end = end
    }

    /// The read error that ended the last iteration early, if any.
    public var error: (any Error)? { failure.error }

    /// Reads ahead `batch` entries at a time (`LogStore.readEntries(_:)`).
    public struct Iterator: IteratorProtocol {
        let log: LogStore
        var position: UInt64
        let end: UInt64
        let failure: FailureBox
        var buffered: [LogEntry] = []
        var cursor = 0
        static let batch: UInt64 = 256

        public mutating func next() -> LogEntry? {
            if cursor == buffered.count {
                guard position < end else { return nil }
                let upTo = Swift.min(end, position + Self.batch)
                cursor = 0
                if let run = try? log.readEntries(position..<upTo) {
                    buffered = run
                    position += UInt64(run.count)
                } else {
                    // One at a time up to the entry that fails, so the error is that entry's own.
                    buffered = []
                    do {
                        while position < upTo {
                            buffered.append(try log.entry(at: position))
                            position += 1
                        }
                    } catch {
                        failure.error = error
                        position = end
                    }
                    if buffered.isEmpty { return nil }
                }
            }
            defer { cursor += 1 }
            return buffered[cursor]
        }
    }

    public func makeIterator() -> Iterator { Iterator(log: log, position: start, end: end, failure: failure) }
}

final class FailureBox: @unchecked Sendable {
    var error: (any Error)?
}

/// The `hashes` file of a log read with pread: a `MerkleHashSource` whose proofs
/// cost O(log n) reads. Keeps its store (and so the file) open.
public struct DiskMerkleHashes: MerkleHashSource, @unchecked Sendable {
    let store: LogStore
    let fd: Int32
    public let treeSize: UInt64

    /// golang.org/x/mod/sumdb/tlog StoredHashIndex: where hash (level, n) is in the file.
    public static func storedHashIndex(level: Int, index n: UInt64) -> UInt64 {
        var n = n
        for _ in 0..<level { n = 2 * n + 1 }
        var i: UInt64 = 0
        while n > 0 { i += n; n >>= 1 }
        return i + UInt64(level)
    }

    public func storedHash(level: Int, index: UInt64) throws -> [UInt8] {
        guard level < 64, (index + 1) << level <= treeSize else { throw LogError.indexOutOfRange(index: index, treeSize: treeSize) }
        var hash = [UInt8](repeating: 0, count: SHA256.byteCount)
        let at = off_t(Self.storedHashIndex(level: level, index: index)) * off_t(SHA256.byteCount)
        guard pread(fd, &hash, hash.count, at) == hash.count else { throw LogStoreError.io("pread hashes", errno: errno) }
        return hash
    }
}
