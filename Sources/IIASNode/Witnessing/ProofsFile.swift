import Foundation
#if canImport(Glibc)
import Glibc
#endif
import IIASLog

/// The receipt proofs one recipient sent us, in one append-only file
/// (`DATA/proofs/CENTER.proofs`), so that keeping a frame's proofs costs one write and one
/// fsync however many envelopes it covers, rather than a file per proof.
///
/// A record is `length u32 BE | CRC-32C u32 BE | body` (CRC over the body); a body is
/// `1 | checkpoint note` or `2 | envelope id 16 | SHA-256 32 | checkpoint record offset
/// u64 BE | extra 49 | hash count u8 | hashes`. A frame appends its checkpoint once, then
/// its entries. Opening reads every record back, checks each, and keeps an index (id →
/// record offset) in memory; an incomplete last record (a crash mid-write) is cut off, as
/// the log does; a complete record whose checksum or fields are wrong refuses the file.
final class ProofsFile: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var fd: Int32
    private var size: UInt64
    private var index: [UUID: UInt64] = [:]

    static let checkpointKind: UInt8 = 1
    static let entryKind: UInt8 = 2
    /// The largest record body: a checkpoint note of the maximum size and its kind byte.
    static let maximumBody = SignedNote.maximumBytes + 1
    private static let entryFixed = 1 + 16 + 32 + 8 + EntryLeaf.byteCount + 1

    /// One proof as kept.
    struct Proof: Sendable, Equatable {
        var envelopeID: UUID
        var sha256: [UInt8]
        var extra: [UInt8]
        var proof: [[UInt8]]
    }

    /// Opens (creating) the file and rebuilds the index.
    init(path: String) throws {
        self.path = path
        let created = access(path, F_OK) != 0
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LogStoreError.io("open \(path)", errno: errno) }
        do {
            let bytes = try DurableFile.read(path) ?? []
            let (valid, index) = try Self.scan(bytes, path: path)
            if valid < bytes.count { guard ftruncate(fd, off_t(valid)) == 0, fsync(fd) == 0 else { throw LogStoreError.io("cut \(path)", errno: errno) } }
            if created { try Self.syncDirectory(of: path) }
            size = UInt64(valid)
            self.index = index
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Whether a proof of `id` is kept.
    func contains(_ id: UUID) -> Bool { lock.withLock { index[id] != nil } }

    var count: Int { lock.withLock { index.count } }

    /// Appends `proofs` under `checkpoint` (its note text) in one write and one fsync;
    /// proofs of ids kept already are left out (the first stays). Returns how many were new.
    @discardableResult
    func append(checkpoint: [UInt8], _ proofs: [Proof]) throws -> Int {
        try lock.withLock {
            var seen = Set<UUID>()
            let fresh = proofs.filter { index[$0.envelopeID] == nil && seen.insert($0.envelopeID).inserted }
            guard !fresh.isEmpty else { return 0 }
            let noteAt = size
            var out = Self.record([Self.checkpointKind] + checkpoint)
            var placed: [(UUID, UInt64)] = []
            for proof in fresh {
                placed.append((proof.envelopeID, size + UInt64(out.count)))
                var body = [Self.entryKind] + withUnsafeBytes(of: proof.envelopeID.uuid) { Array($0) } + proof.sha256
                body += bigEndian(noteAt, 8) + proof.extra + [UInt8(proof.proof.count)]
                for hash in proof.proof { body += hash }
                out += Self.record(body)
            }
            try out.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(size) + off_t(done))
                    guard n > 0 else { throw LogStoreError.io("write \(path)", errno: errno) }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw LogStoreError.io("fsync \(path)", errno: errno) }
            size += UInt64(out.count)
            for (id, offset) in placed { index[id] = offset }
            return fresh.count
        }
    }

    /// The kept proof of `id` and the checkpoint note it ends in (nil: none kept); each
    /// record's checksum is checked again as it is read.
    func read(_ id: UUID) throws -> (proof: Proof, checkpoint: [UInt8])? {
        guard let offset = lock.withLock({ index[id] }) else { return nil }
        let entry = try readBody(at: offset)
        guard let proof = Self.entry(entry), let noteAt = Self.noteOffset(entry) else { throw corrupt(offset, "not an entry record") }
        let note = try readBody(at: noteAt)
        guard note.first == Self.checkpointKind else { throw corrupt(noteAt, "not a checkpoint record") }
        return (proof, Array(note.dropFirst()))
    }

    private func readBody(at offset: UInt64) throws -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 8)
        guard pread(fd, &header, 8, off_t(offset)) == 8 else { throw corrupt(offset, "short record header") }
        let length = Int(header.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length > 0, length <= Self.maximumBody else { throw corrupt(offset, "record length \(length)") }
        var body = [UInt8](repeating: 0, count: length)
        guard pread(fd, &body, length, off_t(offset) + 8) == length else { throw corrupt(offset, "short record") }
        guard CRC32C.checksum(body) == header.suffix(4).reduce(UInt32(0), { $0 << 8 | UInt32($1) }) else { throw corrupt(offset, "checksum mismatch") }
        return body
    }

    private func corrupt(_ offset: UInt64, _ reason: String) -> LogStoreError {
        .corrupt(segment: path, offset: Int(offset), reason: reason)
    }

    private static func record(_ body: [UInt8]) -> [UInt8] {
        bigEndian(UInt64(body.count), 4) + bigEndian(UInt64(CRC32C.checksum(body)), 4) + body
    }

    /// Checks every record; returns the length of the whole records and the index. The
    /// last record may be incomplete (cut); any other fault throws.
    static func scan(_ bytes: [UInt8], path: String) throws -> (Int, [UUID: UInt64]) {
        var index: [UUID: UInt64] = [:]
        var checkpoints = Set<UInt64>()
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 8 else { break }
            let length = Int(bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            let crc = bytes[offset + 4..<offset + 8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            func fault(_ reason: String) -> LogStoreError { .corrupt(segment: path, offset: offset, reason: reason) }
            guard length > 0, length <= maximumBody else { throw fault("record length \(length)") }
            guard bytes.count - offset - 8 >= length else { break }
            let body = Array(bytes[offset + 8..<offset + 8 + length])
            guard CRC32C.checksum(body) == crc else {
                if offset + 8 + length == bytes.count { break } // a torn last write
                throw fault("checksum mismatch")
            }
            switch body.first {
            case checkpointKind:
                checkpoints.insert(UInt64(offset))
            case entryKind:
                guard let proof = entry(body), let noteAt = noteOffset(body), checkpoints.contains(noteAt) else { throw fault("an entry that does not parse") }
                if index[proof.envelopeID] == nil { index[proof.envelopeID] = UInt64(offset) }
            default:
                throw fault("unknown record kind")
            }
            offset += 8 + length
        }
        return (offset, index)
    }

    private static func noteOffset(_ body: [UInt8]) -> UInt64? {
        guard body.count >= entryFixed else { return nil }
        return body[49..<57].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    private static func entry(_ body: [UInt8]) -> Proof? {
        var reader = ByteReader(bytes: body[...])
        guard reader.number(1) == UInt64(entryKind), let id = reader.take(16), let sha = reader.take(32), reader.take(8) != nil,
              let extra = reader.take(EntryLeaf.byteCount), let count = reader.number(1), count <= TlogProof.maximumProofHashes,
              let hashes = reader.take(Int(count) * 32), reader.bytes.isEmpty else { return nil }
        let uuid = id.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) }
        let proof = stride(from: hashes.startIndex, to: hashes.endIndex, by: 32).map { Array(hashes[$0..<($0 + 32)]) }
        return Proof(envelopeID: UUID(uuid: uuid), sha256: Array(sha), extra: Array(extra), proof: proof)
    }

    private static func syncDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw LogStoreError.io("open \(directory)", errno: errno) }
        defer { close(dfd) }
        guard fsync(dfd) == 0 else { throw LogStoreError.io("fsync \(directory)", errno: errno) }
    }
}
