import Foundation
import IIASCrypto
#if canImport(Glibc)
import Glibc
#endif

// Reading: entries by index or in runs, the Merkle tree, where a record is.
extension LogStore {
    /// Number of entries.
    public var count: UInt64 { stateLock.lock(); defer { stateLock.unlock() }; return UInt64(locations.count) }

    /// The log's Merkle tree, for roots and proofs at any size up to `count`: the whole
    /// tree in memory for a read-only store (its open read every record), the `hashes`
    /// file (O(log n) reads a proof) for a writable one. Throws when writing that file
    /// failed (a full disk): a reopen rebuilds it.
    public func merkleTree() throws -> any MerkleHashSource {
        stateLock.lock(); defer { stateLock.unlock() }
        if let auditTree { return auditTree }
        guard hashesFD >= 0, !cachesBroken else {
            throw LogStoreError.inconsistent("\(directory)/\(Self.hashesFileName) could not be written; roots and proofs need a reopen of the log, which rebuilds it")
        }
        return DiskMerkleHashes(store: self, fd: hashesFD, treeSize: hashedCount)
    }

    /// MTH of every entry so far (from the tree's right edge, or a read-only store's
    /// whole tree; no read).
    public var rootHash: [UInt8] {
        stateLock.lock(); defer { stateLock.unlock() }
        if let auditTree { return (try? auditTree.rootHash(treeSize: auditTree.treeSize)) ?? Merkle.emptyRoot }
        return frontier.rootHash
    }

    static func packLocation(_ segment: Int, _ offset: Int) -> UInt64 { UInt64(segment) << 40 | UInt64(offset) }
    static func unpackLocation(_ packed: UInt64) -> (segment: Int, offset: Int) { (Int(packed >> 40), Int(packed & (1 << 40 - 1))) }

    /// The stored hashes as they are on disk (one pread per hash: O(log n) reads per
    /// proof), over the entries written so far. Nil for a read-only store.
    public var diskHashes: DiskMerkleHashes? {
        stateLock.lock(); defer { stateLock.unlock() }
        guard !readOnly, hashesFD >= 0, !cachesBroken else { return nil }
        return DiskMerkleHashes(store: self, fd: hashesFD, treeSize: hashedCount)
    }

    /// Reads entry `index` with pread on a reader fd (never blocks the writer's files).
    /// What `entry(at:)` reads first: a notification's record (about 1.6 KiB) fits.
    static let firstReadSize = 4096

    public func entry(at index: UInt64) throws -> LogEntry {
        stateLock.lock()
        guard index < UInt64(locations.count) else { stateLock.unlock(); throw LogError.indexOutOfRange(index: index, treeSize: UInt64(locations.count)) }
        let loc = Self.unpackLocation(locations[Int(index)])
        let fd = segments[loc.segment].fd
        stateLock.unlock()
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
        stateLock.lock()
        guard range.upperBound <= UInt64(locations.count) else {
            stateLock.unlock()
            throw LogError.indexOutOfRange(index: range.upperBound - 1, treeSize: UInt64(locations.count))
        }
        let places = (range.lowerBound..<min(range.upperBound, range.lowerBound + Self.runEntryLimit)).map {
            Self.unpackLocation(locations[Int($0)])
        }
        let fds = segments.map(\.fd)
        stateLock.unlock()
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
        stateLock.lock(); defer { stateLock.unlock() }
        guard index < UInt64(locations.count) else { return nil }
        let loc = Self.unpackLocation(locations[Int(index)])
        return (segments[loc.segment].name, loc.offset)
    }
}
