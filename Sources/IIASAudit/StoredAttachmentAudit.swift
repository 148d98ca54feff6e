import Foundation
import IIASCrypto
import IIASLog
import IIASModel

/// Stored attachments checked against the roots their node logged, without any key: the
/// root is inside the encrypted notification, but each node logs an `attachment` record
/// (``AttachmentLogRecord``) when it stores a whole ciphertext, so an auditor can hash
/// every file under DATA/attachments into its Merkle root (RFC 9162 over the chunks, as
/// IIASCrypto's attachment format defines) and compare.
public struct StoredAttachmentAudit: Sendable {
    /// One stored file that does not hold what its log record committed to.
    public struct Problem: Sendable, Equatable {
        /// The log entry of the record.
        public var index: UInt64
        /// The file, relative to the attachments directory (`in/SENDER-ROOT.ct`, `out/ROOT.ct`).
        public var file: String
        public var root: String
        /// What is wrong: missing, truncated, extended, altered.
        public var why: String
    }

    /// Files checked (one per distinct logged copy).
    public var checked: Int
    public var problems: [Problem]
    /// Sent copies not checked because the log says the sender released them after delivery.
    public var released = 0

    /// Checks every file named by an attachment record of `log` under `attachmentsDirectory`.
    public static func run(_ log: LogStore, attachmentsDirectory: String) -> StoredAttachmentAudit {
        let records = log.entries().enumerated().compactMap { offset, entry in
            entry.type == .operatorAction ? AttachmentLogRecord(json: entry.payload).map { (UInt64(offset), $0) } : nil
        }
        let released = Set(records.filter { $0.1.direction == .released }.map(\.1.storedPath))
        var seen = Set<String>()
        var audit = StoredAttachmentAudit(checked: 0, problems: [])
        for (index, record) in records where record.direction != .released && seen.insert(record.storedPath).inserted {
            if record.direction == .sent, released.contains(record.storedPath) {
                audit.released += 1
                continue
            }
            audit.checked += 1
            if let why = check(attachmentsDirectory + "/" + record.storedPath, against: record) {
                audit.problems.append(Problem(index: index, file: record.storedPath, root: record.root, why: why))
            }
        }
        return audit
    }

    /// Why the file at `path` is not the ciphertext `record` commits to; nil when it is.
    public static func check(_ path: String, against record: AttachmentLogRecord) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "missing" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()).map(Int.init) ?? -1
        var frontier = MerkleFrontier()
        for chunk in 0..<record.chunkCount {
            let range = record.range(ofChunk: chunk)
            try? handle.seek(toOffset: UInt64(range.lowerBound))
            guard let bytes = try? handle.read(upToCount: range.count), bytes.count == range.count else {
                return "truncated: \(size) of \(record.ciphertextBytes) bytes (chunk \(chunk) incomplete)"
            }
            _ = frontier.append(leafHash: AttachmentSeal.chunkHash(Array(bytes)))
        }
        if frontier.rootHash.hexString != record.root { return "altered: its chunks do not hash to the logged root" }
        if size > record.ciphertextBytes { return "extended: \(size - record.ciphertextBytes) bytes past its logged size of \(record.ciphertextBytes)" }
        return nil
    }
}
