import Foundation
import IIASCrypto
#if canImport(Glibc)
import Glibc
#endif

// Opening a log: the trusted prefix from the caches, then every record after it checked; a torn tail cut (or, read-only, reported).
extension LogStore {
    static func readFile(_ path: String) throws -> [UInt8] { try DurableFile.read(path) ?? [] }

    /// Loads the prefix the hashes and index files cover, cut back to what the segments
    /// hold; returns where the scan of the remaining records starts.
    func loadTrustedPrefix(names: [String]) throws -> (entries: UInt64, segment: Int, offset: Int) {
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
        guard k > 0, let lastSize else { return (0, 0, Self.segmentHeaderSize) }
        let (s, offset) = location(k - 1)
        if s + 1 < segments.count && firsts[s + 1] == k { return (k, s + 1, Self.segmentHeaderSize) }
        return (k, s, offset + lastSize)
    }

    /// Opens (creating) the hashes and index files for the writer, cut back to the trusted prefix.
    func openCacheFiles() throws -> LogCacheFiles {
        let hashesLength = Self.storedHashCount(trustedPrefix) * SHA256.byteCount
        let indexLength = Int(trustedPrefix) * Self.indexEntrySize
        var fds: [Int32] = []
        for (name, length) in [(Self.hashesFileName, hashesLength), (Self.indexFileName, indexLength)] {
            let path = directory + "/" + name
            let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0, ftruncate(fd, off_t(length)) == 0 else {
                let e = errno
                if fd >= 0 { Glibc.close(fd) }
                for opened in fds { Glibc.close(opened) }
                throw LogStoreError.io(fd >= 0 ? "truncate \(name)" : "open \(name)", errno: e)
            }
            fds.append(fd)
        }
        return LogCacheFiles(hashesFD: fds[0], indexFD: fds[1], hashesOffset: hashesLength, indexOffset: indexLength)
    }

    /// The body of the newest signed tree head the log wrote (`checkpoint` file), if readable.
    func storedCheckpoint() -> Checkpoint? {
        let path = directory + "/" + Self.checkpointFileName
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return try? SignedNote(parsing: text).checkpoint()
    }

    /// Refuses to open when the segments disagree with the newest signed checkpoint: its
    /// root differs, or it covers more entries than the segments hold (acknowledged
    /// entries were lost).
    func checkCheckpointFile() throws {
        guard let checkpoint = storedCheckpoint() else { return }
        guard checkpoint.treeSize <= frontier.treeSize else {
            throw LogStoreError.inconsistent("\(directory)/\(Self.checkpointFileName) signs a tree of \(checkpoint.treeSize) entries but the segments hold \(frontier.treeSize): entries were lost; refusing to open")
        }
        guard try merkleTree().rootHash(treeSize: checkpoint.treeSize) == checkpoint.rootHash else {
            throw LogStoreError.inconsistent("the segments disagree with \(directory)/\(Self.checkpointFileName) at tree size \(checkpoint.treeSize): refusing to open")
        }
    }

    static func segmentName(_ first: UInt64) -> String { String(format: "%020llu.seg", first) }

    func recover() throws {
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
        if let writer {
            (expected, scanSegment, startOffset) = try loadTrustedPrefix(names: names)
            writer.caches = try openCacheFiles()
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
                            try writer?.caches.append(hashes: newHashes, index: newIndex)
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
                if n == names.count - 1, let writer {
                    // The active segment's write descriptor goes to the writer, its only user.
                    let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
                    guard fd >= 0 else { throw LogStoreError.io("open \(name)", errno: errno) }
                    try writer.adopt(fd: fd, segment: n, offset: scan.stop?.offset ?? scan.end, allocatedEnd: scan.size)
                }
            }
        }
        guard let writer else { return }
        let rebuilt = writer.caches.hashesOffset > Self.storedHashCount(trustedPrefix) * SHA256.byteCount || !newHashes.isEmpty
        try writer.caches.append(hashes: newHashes, index: newIndex)
        if rebuilt { try writer.caches.sync() }
        hashedCount = frontier.treeSize
        hashesFD = Glibc.open(directory + "/" + Self.hashesFileName, O_RDONLY | O_CLOEXEC)
        guard hashesFD >= 0 else { throw LogStoreError.io("open \(Self.hashesFileName)", errno: errno) }
        if segments.isEmpty { try writer.startSegment(first: 0) }
        try checkCheckpointFile()
    }

    /// How many segments a scan at open holds at once (each read whole, 64 MiB by default).
    static let maximumSegmentsInMemory = 4

    /// One segment's records, read and checked on their own: where each lies and its
    /// leaf hash, and where and why the scan stopped short of the end, if it did.
    struct SegmentScan: Sendable {
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
    static func scanSegment(_ name: String, in directory: String, maximumEntrySize: Int,
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
    static func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @Sendable (T) -> R) -> [R] {
        if items.count == 1 { return [transform(items[0])] }
        var results = [R?](repeating: nil, count: items.count)
        results.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            DispatchQueue.concurrentPerform(iterations: items.count) { i in out[i] = transform(items[i]) }
        }
        return results.map { $0! }
    }
}
