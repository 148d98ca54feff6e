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
/// sync. One batch is written at a time: by the appender itself when the log is idle,
/// otherwise by a dedicated writer thread that takes all that queued. The Merkle tree (RFC 9162) is
/// persisted in `hashes` (tlog stored-hash order) and record locations in `index`, so
/// open trusts the prefix they cover and reads only the records after it; a read-only
/// open (the auditor's `iias log verify`) ignores both files and scans every record.
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
        let completion: Completion
    }

    /// Who is waiting for an entry: its own appender, or (on the last entry of an
    /// `append(_:)` batch) the batch's appender, for `count` consecutive entries.
    private enum Completion {
        case single(CheckedContinuation<UInt64, any Error>)
        case batch(CheckedContinuation<[LogEntry], any Error>, count: Int)
        case none
    }
    private var pending: [Pending] = []
    /// A batch is being written, by the writer thread or by an appender that found the
    /// log idle; whoever holds it alone touches the files, offsets and caches.
    private var writing = false
    /// The last fdatasync took longer than `slowSync`: appenders then leave
    /// the writing to the writer thread, so that a stalling disk blocks no caller's
    /// thread (the node's actor, for one) for longer than one sync.
    private var syncsAreSlow = false
    private var callerBatches: UInt64 = 0
    /// Batches their own appender wrote (the rest the writer thread did): how often the
    /// idle-log path is taken.
    public var batchesWrittenByCallers: UInt64 { condition.lock(); defer { condition.unlock() }; return callerBatches }
    private let slowSyncNanoseconds: UInt64
    private var closed = false
    /// The tree's right edge (O(log n) hashes): what appends and tree heads need. Roots
    /// and proofs at other sizes come from the `hashes` file.
    private var frontier = MerkleFrontier()
    /// The whole tree, for a read-only store only: an auditor's open reads every record
    /// and has no trusted `hashes` file to prove from.
    private var auditTree: InMemoryMerkleTree?
    /// Where each entry's record is: segment number << 40 | byte offset (8 bytes an entry).
    private var locations: [UInt64] = []
    private var segments: [(name: String, first: UInt64, fd: Int32)] = []
    private var writeFD: Int32 = -1
    private var writeOffset = 0
    /// The active segment's size: its records, then zeros written ahead of them (see `preallocate`).
    private var allocatedEnd = 0
    /// Zeros written ahead of the records, at most this many bytes at a time; 0: none.
    private let preallocation: Int
    /// Set when zeros could not be written (a full disk): none until the next segment.
    private var preallocationFailed = false
    private var thread: Thread?
    /// Holds an exclusive flock on `DIR/lock` while the store is open for writing: two
    /// writers of one log would cut each other's tails and caches.
    private var lockFD: Int32 = -1
    /// Signalled once by the writer thread as it ends (what `close` waits for).
    private let writerFinished = DispatchSemaphore(value: 0)
    /// The file a writable store holds an exclusive flock on (empty).
    public static let lockFileName = "lock"
    /// Stored Merkle hashes, 32 bytes each, in golang.org/x/mod/sumdb/tlog order.
    public static let hashesFileName = "hashes"
    /// Per entry: segment number u64 BE, record offset u64 BE.
    public static let indexFileName = "index"
    static let indexEntrySize = 16
    private var hashesFD: Int32 = -1
    /// Set when writing the hashes/index caches failed: they are not used (nor synced)
    /// until the next open rebuilds them.
    private var cachesBroken = false
    private var indexFD: Int32 = -1
    private var hashesOffset = 0
    private var indexOffset = 0
    /// Entries taken from the hashes and index files at open: their records were not read.
    public private(set) var trustedPrefix: UInt64 = 0
    /// Called on the writing thread after each batch's fdatasync with its duration in
    /// seconds and the number of entries it made durable (metrics). Set it before the
    /// first append.
    nonisolated(unsafe) public var syncObserver: (@Sendable (_ seconds: Double, _ entries: Int) -> Void)?
    /// Set when open found the hashes/index caches inconsistent and rebuilt them from
    /// the segments (reported by the node at start-up; the log itself is intact).
    public private(set) var rejectedCaches: String?
    /// Entries whose stored hashes are written to the hashes file.
    private var hashedCount: UInt64 = 0

    /// `readOnly` (for auditors): nothing is created, truncated or appended; a torn tail is only reported.
    /// `slowSync`: an fdatasync longer than this sends appends to the writer thread (see `append(_:)`).
    /// `preallocation`: bytes of zeros written ahead of the records at a time (see `preallocate`).
    public init(directory: String, segmentSize: Int = 64 << 20, maximumEntrySize: Int = 16 << 20, readOnly: Bool = false,
                slowSync: Duration = .milliseconds(5), preallocation: Int = LogStore.defaultPreallocation) throws {
        self.readOnly = readOnly
        self.preallocation = max(0, preallocation)
        slowSyncNanoseconds = UInt64(max(0, slowSync.components.seconds)) * 1_000_000_000 + UInt64(max(0, slowSync.components.attoseconds / 1_000_000_000))
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
        }
        do { try recover() } catch {
            if lockFD >= 0 { Glibc.close(lockFD); lockFD = -1 }
            throw error
        }
        if readOnly { closed = true; return }
        // The thread holds the store strongly until close() lets the loop end.
        let t = Thread { self.writerLoop() }
        t.name = "iias-log-writer"
        thread = t
        t.start()
    }

    deinit {
        if lockFD >= 0 { Glibc.close(lockFD) }
        for s in segments { Glibc.close(s.fd) }
        if writeFD >= 0 { Glibc.close(writeFD) }
        if hashesFD >= 0 { Glibc.close(hashesFD) }
        if indexFD >= 0 { Glibc.close(indexFD) }
    }

    /// Number of stored hashes of a tree of `n` leaves (tlog: 2n - popcount(n)).
    static func storedHashCount(_ n: UInt64) -> Int { Int(2 * n) - n.nonzeroBitCount }

    private static func readFile(_ path: String) throws -> [UInt8] { try DurableFile.read(path) ?? [] }

    /// Loads the prefix the hashes and index files cover, cut back to what the segments
    /// hold; returns where the scan of the remaining records starts.
    private func loadTrustedPrefix(names: [String]) throws -> (entries: UInt64, segment: Int, offset: Int) {
        // Open every segment and check its header.
        var firsts: [UInt64] = []
        for name in names {
            let path = directory + "/" + name
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
            var header = [UInt8](repeating: 0, count: Self.segmentHeaderSize)
            let got = pread(fd, &header, header.count, 0)
            let first = got == header.count ? Record.readBE(header[...], at: 12) : 0
            guard got == header.count, Array(header[0..<8]) == Self.magic, Record.readBE32(header[...], at: 8) == Self.version,
                  name == Self.segmentName(first), firsts.last.map({ first > $0 }) ?? (first == 0) else {
                Glibc.close(fd)
                throw LogStoreError.badSegment(segment: name, reason: "bad segment header, or segment missing or reordered")
            }
            firsts.append(first)
            segments.append((name, first, fd))
        }
        let index = try Self.readFile(directory + "/" + Self.indexFileName)
        let hashes = try Self.readFile(directory + "/" + Self.hashesFileName)
        let hashCount = hashes.count / SHA256.byteCount
        var k = UInt64(index.count / Self.indexEntrySize)
        while k > 0 && Self.storedHashCount(k) > hashCount { k -= 1 }
        func location(_ i: UInt64) -> (Int, Int) {
            let at = Int(i) * Self.indexEntrySize
            return (Int(clamping: Record.readBE(index[...], at: at)), Int(clamping: Record.readBE(index[...], at: at + 8)))
        }
        func storedLeaf(_ i: UInt64) -> [UInt8] {
            let at = Self.storedHashCount(i) * SHA256.byteCount
            return Array(hashes[at..<at + SHA256.byteCount])
        }
        // Is entry i where the index says, with the leaf hash the hashes file holds?
        func recordSize(_ i: UInt64) -> Int? {
            let (s, offset) = location(i)
            guard s < segments.count, firsts[s] <= i, s + 1 == segments.count || i < firsts[s + 1],
                  offset >= Self.segmentHeaderSize else { return nil }
            var header = [UInt8](repeating: 0, count: Record.headerSize)
            guard pread(segments[s].fd, &header, header.count, off_t(offset)) == header.count else { return nil }
            let length = Int(Record.readBE32(header[...], at: 0))
            guard length <= maximumEntrySize else { return nil }
            var bytes = [UInt8](repeating: 0, count: Record.headerSize + length)
            guard pread(segments[s].fd, &bytes, bytes.count, off_t(offset)) == bytes.count,
                  let entry = try? Record.decode(bytes[...], maximumEntrySize: maximumEntrySize).entry,
                  entry.index == i, Merkle.hashLeaf(entry.encoded()) == storedLeaf(i) else { return nil }
            return bytes.count
        }
        var lastSize: Int?
        var steps = 0
        while k > 0 {
            if let size = recordSize(k - 1) { lastSize = size; break }
            k -= 1; steps += 1
            if steps > 4096 { k = 0 }
        }
        // Each segment inside the prefix must start where the index says.
        for (s, first) in firsts.enumerated() where s > 0 && first < k {
            guard location(first) == (s, Self.segmentHeaderSize) else { k = 0; lastSize = nil; break }
        }
        // The caches are not synced with every batch (the segments are): after a crash
        // they may hold stale or zeroed pages. Anything that does not add up — a parent
        // that is not the hash of its children, or a root that differs from the signed
        // checkpoint — discards them, and the segments are read in full instead. The
        // stored hashes are checked as a stream: only the tree's right edge is held.
        var rejection: String?
        let checkpoint = storedCheckpoint()
        var position = 0
        func stored(_ i: Int) -> ArraySlice<UInt8> { hashes[(i * SHA256.byteCount)..<((i + 1) * SHA256.byteCount)] }
        locations.reserveCapacity(Int(k))
        for i in 0..<k {
            let leaf = Array(stored(position))
            position += 1
            for parent in frontier.append(leafHash: leaf) {
                guard parent[...] == stored(position) else {
                    rejection = "stored hash \(position) (a parent completed by entry \(i)) is not the hash of its children"
                    break
                }
                position += 1
            }
            if rejection != nil { break }
            let (segment, offset) = location(i)
            locations.append(Self.packLocation(segment, offset))
            if let checkpoint, checkpoint.treeSize == i + 1, frontier.rootHash != checkpoint.rootHash {
                rejection = "the root at size \(checkpoint.treeSize) differs from the signed checkpoint"
                break
            }
        }
        if let rejection {
            rejectedCaches = "\(directory)/\(Self.hashesFileName): \(rejection); rebuilt from the segments"
            frontier = MerkleFrontier()
            locations.removeAll()
            k = 0
            lastSize = nil
        }
        trustedPrefix = k
        hashesOffset = Self.storedHashCount(k) * SHA256.byteCount
        indexOffset = Int(k) * Self.indexEntrySize
        guard k > 0, let lastSize else { return (0, 0, Self.segmentHeaderSize) }
        let (s, offset) = location(k - 1)
        if s + 1 < segments.count && firsts[s + 1] == k { return (k, s + 1, Self.segmentHeaderSize) }
        return (k, s, offset + lastSize)
    }

    /// Opens (creating) the hashes and index files, cut back to the trusted prefix.
    private func openSideFiles() throws {
        for (name, length) in [(Self.hashesFileName, hashesOffset), (Self.indexFileName, indexOffset)] {
            let path = directory + "/" + name
            let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
            guard ftruncate(fd, off_t(length)) == 0 else { let e = errno; Glibc.close(fd); throw LogStoreError.io("truncate \(name)", errno: e) }
            if name == Self.hashesFileName { hashesFD = fd } else { indexFD = fd }
        }
    }

    /// The body of the newest signed tree head the log wrote (`checkpoint` file), if readable.
    private func storedCheckpoint() -> Checkpoint? {
        let path = directory + "/" + Self.checkpointFileName
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let end = text.range(of: "\n\n") else { return nil }
        return try? Checkpoint(body: String(text[..<end.lowerBound]) + "\n")
    }

    /// Refuses to open when the segments disagree with the newest signed checkpoint: its
    /// root differs, or it covers more entries than the segments hold (acknowledged
    /// entries were lost).
    private func checkCheckpointFile() throws {
        guard let checkpoint = storedCheckpoint() else { return }
        guard checkpoint.treeSize <= frontier.treeSize else {
            throw LogStoreError.inconsistent("\(directory)/\(Self.checkpointFileName) signs a tree of \(checkpoint.treeSize) entries but the segments hold \(frontier.treeSize): entries were lost; refusing to open")
        }
        guard try merkleTree().rootHash(treeSize: checkpoint.treeSize) == checkpoint.rootHash else {
            throw LogStoreError.inconsistent("the segments disagree with \(directory)/\(Self.checkpointFileName) at tree size \(checkpoint.treeSize): refusing to open")
        }
    }

    static func segmentName(_ first: UInt64) -> String { String(format: "%020llu.seg", first) }

    private func recover() throws {
        var names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.sorted()
        // A crash while a new segment was being created leaves it shorter than its header
        // (created, header not yet durable): it holds no record, so it is removed and reported.
        if names.count > 1, let last = names.last {
            var info = stat()
            let path = directory + "/" + last
            if stat(path, &info) == 0, Int(info.st_size) <= Self.segmentHeaderSize,
               Array(((try? Self.readFile(path)) ?? []).prefix(8)) != Self.magic || Int(info.st_size) < Self.segmentHeaderSize {
                if !readOnly { unlink(directory + "/" + last) }
                truncatedTail = (last, 0, Int(info.st_size))
                names.removeLast()
            }
        }
        var expected: UInt64 = 0
        var scanSegment = 0
        var startOffset = Self.segmentHeaderSize
        var newHashes: [UInt8] = []
        var newIndex: [UInt8] = []
        if !readOnly {
            (expected, scanSegment, startOffset) = try loadTrustedPrefix(names: names)
            try openSideFiles()
        }
        // Segments are read and checked (CRC, leaf hash) on several cores, a window of them
        // at a time, whole segments in memory (so at most `maximumSegmentsInMemory`);
        // their records are then taken in order.
        let width = max(1, min(ProcessInfo.processInfo.activeProcessorCount, Self.maximumSegmentsInMemory))
        for window in stride(from: scanSegment, to: names.count, by: width) {
            let part = window..<min(names.count, window + width)
            let resume = (offset: startOffset, index: expected)
            let (directory, maximumEntrySize, first) = (directory, maximumEntrySize, scanSegment)
            let scans = Self.concurrentMap(Array(part)) { [names] n in
                Self.scanSegment(names[n], in: directory, maximumEntrySize: maximumEntrySize, resume: n == first ? resume : nil)
            }
            for (n, scan) in zip(part, scans) {
                let name = names[n]
                let path = directory + "/" + name
                var scan = try scan.get()
                guard n == scanSegment && startOffset > Self.segmentHeaderSize || scan.first == expected else {
                    throw LogStoreError.badSegment(segment: name, reason: "starts at index \(scan.first), expected \(expected): segment missing or reordered")
                }
                for (k, offset) in scan.offsets.enumerated() {
                    let leaf = Array(scan.leaves[(k * SHA256.byteCount)..<((k + 1) * SHA256.byteCount)])
                    locations.append(Self.packLocation(n, offset))
                    // A read-only store keeps the whole tree, a writable one its right edge.
                    if readOnly {
                        auditTree?.append(leafHash: leaf)
                    } else {
                        let parents = frontier.append(leafHash: leaf)
                        newHashes.append(contentsOf: leaf)
                        for parent in parents { newHashes.append(contentsOf: parent) }
                        Record.appendBE(UInt64(n), to: &newIndex)
                        Record.appendBE(UInt64(offset), to: &newIndex)
                        if newHashes.count >= 1 << 20 {   // written as the scan goes: a rebuild holds no whole copy
                            try writeSide(newHashes, newIndex)
                            newHashes.removeAll(keepingCapacity: true)
                            newIndex.removeAll(keepingCapacity: true)
                        }
                    }
                    expected += 1
                }
                if let (offset, error, reachesEnd) = scan.stop {
                    // Torn tail: only the last record of the last segment may be cut.
                    guard n == names.count - 1, reachesEnd else {
                        throw LogStoreError.corrupt(segment: name, offset: offset, reason: error)
                    }
                    guard readOnly || truncate(path, off_t(offset)) == 0 else { throw LogStoreError.io("truncate \(name)", errno: errno) }
                    truncatedTail = (name, offset, scan.size - offset)
                    scan.size = offset
                }
                if readOnly {
                    let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
                    guard fd >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
                    segments.append((name, scan.first, fd))
                }
                if n == names.count - 1 && !readOnly {
                    writeFD = Glibc.open(path, O_WRONLY | O_CLOEXEC)
                    guard writeFD >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
                    writeOffset = scan.stop?.offset ?? scan.end
                    allocatedEnd = scan.size
                    guard fdatasync(writeFD) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
                }
            }
        }
        if readOnly { return }
        let rebuilt = hashesOffset > Self.storedHashCount(trustedPrefix) * SHA256.byteCount || !newHashes.isEmpty
        try writeSide(newHashes, newIndex)
        if rebuilt { try syncSide() }
        hashedCount = frontier.treeSize
        if segments.isEmpty { try startSegment(first: 0) }
        try checkCheckpointFile()
    }

    /// How many segments a scan at open holds at once (each read whole, 64 MiB by default).
    static let maximumSegmentsInMemory = 4

    /// One segment's records, read and checked on their own: where each lies and its
    /// leaf hash, and where and why the scan stopped short of the end, if it did.
    private struct SegmentScan: Sendable {
        var first: UInt64
        var size: Int
        /// Where the records end: the size, less the zeros written ahead of them.
        var end: Int
        var offsets: [Int] = []
        /// The records' leaf hashes, 32 bytes each, in order.
        var leaves: [UInt8] = []
        /// A record that does not decode: its offset, why, and whether it runs to the
        /// end of the file (a torn tail, if this is the last segment).
        var stop: (offset: Int, reason: String, reachesEnd: Bool)?
    }

    /// Scans a segment from its first record, or from `resume` (an offset and the index
    /// expected there) when a trusted prefix ends inside it.
    private static func scanSegment(_ name: String, in directory: String, maximumEntrySize: Int,
                                    resume: (offset: Int, index: UInt64)?) -> Result<SegmentScan, LogStoreError> {
        let data: [UInt8]
        do { data = try readFile(directory + "/" + name) } catch {
            return .failure(error as? LogStoreError ?? .io("read \(name)", errno: errno))
        }
        guard data.count >= Self.segmentHeaderSize, Array(data[0..<8]) == Self.magic,
              Record.readBE32(data[...], at: 8) == Self.version else {
            return .failure(.badSegment(segment: name, reason: "bad segment header"))
        }
        var scan = SegmentScan(first: Record.readBE(data[...], at: 12), size: data.count, end: data.count)
        guard name == segmentName(scan.first) else {
            return .failure(.badSegment(segment: name, reason: "starts at index \(scan.first) but is named \(name): segment renamed"))
        }
        var offset = resume?.offset ?? Self.segmentHeaderSize
        var expected = resume?.index ?? scan.first
        while offset < data.count {
            do {
                let (entry, size) = try Record.decode(data[offset...], maximumEntrySize: maximumEntrySize)
                guard entry.index == expected else {
                    return .failure(.corrupt(segment: name, offset: offset, reason: "index \(entry.index), expected \(expected)"))
                }
                // The record's body is the encoded entry: hashed where it lies, not re-encoded.
                scan.leaves.append(contentsOf: Merkle.hashLeaf(data[(offset + Record.headerSize)..<(offset + size)]))
                scan.offsets.append(offset)
                expected += 1
                offset += size
            } catch {
                // Only zeros from here: what the writer wrote ahead of its records.
                if Self.isZero(data[offset...]) { scan.end = offset; break }
                let reachesEnd: Bool
                switch error {
                case .truncated: reachesEnd = true
                case .checksumMismatch, .malformedEntry:
                    // A record cut short, then nothing but the zeros that were ahead of it.
                    let extent = offset + Record.headerSize + Int(Record.readBE32(data[...], at: offset))
                    reachesEnd = extent >= data.count || Self.isZero(data[extent...])
                default: reachesEnd = false
                }
                scan.stop = (offset, error.description, reachesEnd)
                break
            }
        }
        return .success(scan)
    }

    /// Whether every byte is zero: the zeros written ahead of the records (a word at a time).
    static func isZero(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.withUnsafeBytes { raw in
            var words = raw.count / 8, rest = raw.count % 8
            var pointer = raw.baseAddress!
            while words > 0 { if pointer.loadUnaligned(as: UInt64.self) != 0 { return false }; pointer += 8; words -= 1 }
            while rest > 0 { if pointer.load(as: UInt8.self) != 0 { return false }; pointer += 1; rest -= 1 }
            return true
        }
    }

    /// `transform` of each item, on every core at once, results in order.
    private static func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @Sendable (T) -> R) -> [R] {
        if items.count == 1 { return [transform(items[0])] }
        var results = [R?](repeating: nil, count: items.count)
        results.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            DispatchQueue.concurrentPerform(iterations: items.count) { i in out[i] = transform(items[i]) }
        }
        return results.map { $0! }
    }

    private func writeSide(_ hashes: [UInt8], _ index: [UInt8]) throws {
        try writeAll(hashes, at: hashesOffset, fd: hashesFD)
        hashesOffset += hashes.count
        try writeAll(index, at: indexOffset, fd: indexFD)
        indexOffset += index.count
    }

    private func syncSide() throws {
        guard fdatasync(hashesFD) == 0, fdatasync(indexFD) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
    }

    /// Starts the next segment; the current one stays the write target until the new
    /// one's header is durable, so a failure (a full disk) leaves the log as it was.
    private func startSegment(first: UInt64) throws {
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

    private func writeAll(_ bytes: [UInt8], at offset: Int, fd: Int32? = nil) throws {
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
    private func writeIfIdle(_ entries: [(type: EntryType, payload: [UInt8])]) throws -> [LogEntry]? {
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

    private let checkpointLock = NSLock()

    private func writeCheckpointFile(_ bytes: [UInt8]) throws {
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
    private func preallocate(past end: Int) {
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

    private func writerLoop() {
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
    private func write(_ batch: [Pending]) -> (results: [UInt64?], time: Int64, failure: (any Error)?) {
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

    /// Number of entries.
    public var count: UInt64 { condition.lock(); defer { condition.unlock() }; return UInt64(locations.count) }

    /// The log's Merkle tree, for roots and proofs at any size up to `count`: the whole
    /// tree in memory for a read-only store (its open read every record), the `hashes`
    /// file (O(log n) reads a proof) for a writable one. Throws when writing that file
    /// failed (a full disk): a reopen rebuilds it.
    public func merkleTree() throws -> any MerkleHashSource {
        condition.lock(); defer { condition.unlock() }
        if let auditTree { return auditTree }
        guard hashesFD >= 0, !cachesBroken else {
            throw LogStoreError.inconsistent("\(directory)/\(Self.hashesFileName) could not be written; roots and proofs need a reopen of the log, which rebuilds it")
        }
        return DiskMerkleHashes(store: self, fd: hashesFD, treeSize: hashedCount)
    }

    /// MTH of every entry so far (from the tree's right edge, or a read-only store's
    /// whole tree; no read).
    public var rootHash: [UInt8] {
        condition.lock(); defer { condition.unlock() }
        if let auditTree { return (try? auditTree.rootHash(treeSize: auditTree.treeSize)) ?? Merkle.emptyRoot }
        return frontier.rootHash
    }

    static func packLocation(_ segment: Int, _ offset: Int) -> UInt64 { UInt64(segment) << 40 | UInt64(offset) }
    static func unpackLocation(_ packed: UInt64) -> (segment: Int, offset: Int) { (Int(packed >> 40), Int(packed & (1 << 40 - 1))) }

    /// The stored hashes as they are on disk (one pread per hash: O(log n) reads per
    /// proof), over the entries written so far. Nil for a read-only store.
    public var diskHashes: DiskMerkleHashes? {
        condition.lock(); defer { condition.unlock() }
        guard !readOnly, hashesFD >= 0, !cachesBroken else { return nil }
        return DiskMerkleHashes(store: self, fd: hashesFD, treeSize: hashedCount)
    }

    /// Reads entry `index` with pread on a reader fd (never blocks the writer's files).
    /// What `entry(at:)` reads first: a notification's record (about 1.6 KiB) fits.
    static let firstReadSize = 4096

    public func entry(at index: UInt64) throws -> LogEntry {
        condition.lock()
        guard index < UInt64(locations.count) else { condition.unlock(); throw LogError.indexOutOfRange(index: index, treeSize: UInt64(locations.count)) }
        let loc = Self.unpackLocation(locations[Int(index)])
        let fd = segments[loc.segment].fd
        condition.unlock()
        // One read of a typical record's size; a longer one is read again whole.
        var bytes = [UInt8](repeating: 0, count: Self.firstReadSize)
        let got = pread(fd, &bytes, bytes.count, off_t(loc.offset))
        guard got >= Record.headerSize else { throw LogStoreError.io("pread", errno: got < 0 ? errno : EIO) }
        let length = Int(Record.readBE32(bytes[...], at: 0))
        guard length <= maximumEntrySize else { throw LogError.recordTooLarge(length: length, maximum: maximumEntrySize) }
        if Record.headerSize + length > got {
            bytes = [UInt8](repeating: 0, count: Record.headerSize + length)
            guard pread(fd, &bytes, bytes.count, off_t(loc.offset)) == bytes.count else { throw LogStoreError.io("pread", errno: errno) }
        }
        let entry = try Record.decode(bytes[..<(Record.headerSize + length)], maximumEntrySize: maximumEntrySize).entry
        guard entry.index == index else {
            throw LogStoreError.corrupt(segment: location(of: index)?.segment ?? "?", offset: loc.offset, reason: "index \(entry.index), expected \(index)")
        }
        return entry
    }

    /// Entries from the start of `range` in order, each run of them in one segment read
    /// with one pread (at most `runReadLimit` bytes a read): what a sequential reader
    /// (an audit, a fold, an iteration) pays per entry is its bytes, not a system call.
    /// Stops early, after at least one entry, once `runReadLimit` bytes of payload are
    /// held or `runEntryLimit` entries read, so memory stays bounded whatever is asked.
    public func readEntries(_ range: Range<UInt64>) throws -> [LogEntry] {
        condition.lock()
        guard range.upperBound <= UInt64(locations.count) else {
            condition.unlock()
            throw LogError.indexOutOfRange(index: range.upperBound - 1, treeSize: UInt64(locations.count))
        }
        let places = (range.lowerBound..<min(range.upperBound, range.lowerBound + Self.runEntryLimit)).map {
            Self.unpackLocation(locations[Int($0)])
        }
        let fds = segments.map(\.fd)
        condition.unlock()
        var out: [LogEntry] = []
        out.reserveCapacity(places.count)
        var held = 0
        var first = 0
        while first < places.count, held < Self.runReadLimit {
            // A run: consecutive records of one segment, within the read limit.
            let segment = places[first].segment, start = places[first].offset
            var end = first + 1
            while end < places.count, places[end].segment == segment, places[end].offset - start < Self.runReadLimit { end += 1 }
            var bytes = [UInt8](repeating: 0, count: places[end - 1].offset - start + Self.firstReadSize)
            let got = pread(fds[segment], &bytes, bytes.count, off_t(start))
            guard got >= 0 else { throw LogStoreError.io("pread", errno: errno) }
            for k in first..<end {
                let index = range.lowerBound + UInt64(k)
                let at = places[k].offset - start
                let available = got - at
                let length = available >= Record.headerSize ? Int(Record.readBE32(bytes[...], at: at)) : Int.max
                guard held < Self.runReadLimit else { return out }
                guard length <= maximumEntrySize, Record.headerSize + length <= available else {
                    let alone = try entry(at: index)   // longer than what was read (or damaged): read alone
                    held += alone.payload.count
                    out.append(alone)
                    continue
                }
                let entry = try Record.decode(bytes[at..<(at + Record.headerSize + length)], maximumEntrySize: maximumEntrySize).entry
                guard entry.index == index else {
                    throw LogStoreError.corrupt(segment: location(of: index)?.segment ?? "?", offset: places[k].offset,
                                                reason: "index \(entry.index), expected \(index)")
                }
                held += entry.payload.count
                out.append(entry)
            }
            first = end
        }
        return out
    }

    /// The most one read of `readEntries(_:)` asks for, and the most entries it returns.
    static let runReadLimit = 4 << 20
    static let runEntryLimit: UInt64 = 4096

    /// The entries from `start` up to `end` (default: the current end, a snapshot of the
    /// count), read lazily a run at a time. A read error ends the iteration; it is then
    /// in `error`.
    public func entries(from start: UInt64 = 0, to end: UInt64? = nil) -> LogEntries {
        LogEntries(log: self, start: start, end: min(end ?? count, count))
    }

    /// Where entry `index` is stored (segment file name, byte offset of its record), for error messages.
    public func location(of index: UInt64) -> (segment: String, offset: Int)? {
        condition.lock(); defer { condition.unlock() }
        guard index < UInt64(locations.count) else { return nil }
        let loc = Self.unpackLocation(locations[Int(index)])
        return (segments[loc.segment].name, loc.offset)
    }

    /// Stops the writer after the pending appends and waits until it has left the files
    /// as a clean close does (caches synced, the segment cut back to its last record);
    /// later appends throw `.closed`.
    public func close() {
        condition.lock()
        let first = !closed
        closed = true
        condition.signal()
        condition.unlock()
        if first, thread != nil { writerFinished.wait() }
    }
}

/// Carries the checkpoint built while writing back to `appendTreeHead`.
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
