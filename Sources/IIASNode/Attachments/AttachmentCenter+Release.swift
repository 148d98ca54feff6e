import Foundation
import IIASModel

// Sent ciphertext is kept while a recipient still needs it, and for the retention after.
extension AttachmentCenter {
    /// Whether some recipient of `record` has not ended its transfer (neither delivered nor refused).
    static func stillSending(_ record: OutgoingAttachment) -> Bool { record.recipients.values.contains("waiting") }

    /// What a recipient asking again for a released attachment is told (and shows as failed).
    static let releasedReason = "the sender no longer holds it"

    /// Releases every sent attachment whose recipients all ended longer than the retention
    /// ago: a `released` record is logged (durable), the record saying so is saved, then
    /// `ROOT.ct` and `ROOT.hashes` are removed. A crash after the record and before the
    /// removal leaves files that `removeUnneeded` takes at the next start. Nothing is
    /// released before the node says where its log records go.
    func releaseExpired(now: Date = Date()) async {
        guard let (center, append) = logRecorder.withLock({ $0 }) else { return }
        let due = outgoing.withLock { all in
            all.values.filter { record in
                guard record.released != true, !Self.stillSending(record), let ended = record.endedAt else { return false }
                return now.timeIntervalSince(ended) >= sentRetention
            }
        }
        for record in due where releasing.withLock({ $0.insert(record.root).inserted }) {
            defer { _ = releasing.withLock { $0.remove(record.root) } }
            // Without a durable `released` record the files stay (an auditor would find them
            // missing); the next pass tries again.
            guard await append([AttachmentLogRecord(direction: .released, sender: center, envelope: record.envelope, index: 0,
                                                    ciphertextBytes: record.ciphertextBytes, chunkSize: record.chunkSize, root: record.root)])
            else { continue }
            outgoing.withLock { $0[record.root]?.released = true }
            guard let updated = outgoing.withLock({ $0[record.root] }), updated.released == true, !Self.stillSending(updated),
                  saving.withLock({ _ in save(updated) }) else { continue }
            removeFiles(of: record.root)
        }
    }

    private func removeFiles(of root: String) {
        let base = directory.outgoing + "/" + root
        for suffix in [".ct", ".hashes"] where unlink(base + suffix) != 0 && errno != ENOENT {
            logger.error("cannot remove a released attachment's file", metadata: ["attachment": "\(root)", "file": "\(base + suffix)", "errno": "\(errno)"])
        }
        AttachmentDirectory.syncDirectory(directory.outgoing)
    }

    /// At start: files no record names (an upload no draft named before a restart) go,
    /// and so do the ciphertext and hashes of records saying they were released.
    func removeUnneeded(_ records: [OutgoingAttachment]) {
        let byRoot = Dictionary(records.map { ($0.root, $0) }, uniquingKeysWith: { first, _ in first })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.outgoing)) ?? [] {
            let root = name.split(separator: ".").first.map(String.init) ?? name
            guard let record = byRoot[root] else {
                unlink(directory.outgoing + "/" + name)
                continue
            }
            if record.released == true, name.hasSuffix(".ct") || name.hasSuffix(".hashes") { unlink(directory.outgoing + "/" + name) }
        }
        AttachmentDirectory.syncDirectory(directory.outgoing)
    }
}
