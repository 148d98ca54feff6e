import Foundation

// Sent ciphertext is kept only while a recipient still needs it.
extension AttachmentCenter {
    /// Whether some recipient of `record` has not ended its transfer (neither delivered nor refused).
    static func stillSending(_ record: OutgoingAttachment) -> Bool { record.recipients.values.contains("waiting") }

    /// Removes the ciphertext and chunk hashes of `record` once every recipient ended its
    /// transfer. Called only after the record saying so is durable: a crash before the
    /// removal leaves files that `removeUnneeded` takes at the next start, and a crash
    /// after it leaves a record that asks for nothing more. The record stays: it is what
    /// `iias outbox` shows.
    func releaseCiphertext(of record: OutgoingAttachment) {
        guard !Self.stillSending(record) else { return }
        let base = directory.outgoing + "/" + record.root
        for suffix in [".ct", ".hashes"] where unlink(base + suffix) != 0 && errno != ENOENT {
            logger.error("cannot remove a delivered attachment's file", metadata: ["attachment": "\(record.root)", "file": "\(base + suffix)",
                                                                                   "errno": "\(errno)"])
        }
        AttachmentDirectory.syncDirectory(directory.outgoing)
    }

    /// At start: files no record names (an upload no draft named before a restart) go,
    /// and so do the ciphertext and hashes of records every recipient has ended.
    func removeUnneeded(_ records: [OutgoingAttachment]) {
        let byRoot = Dictionary(records.map { ($0.root, $0) }, uniquingKeysWith: { first, _ in first })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.outgoing)) ?? [] {
            let root = name.split(separator: ".").first.map(String.init) ?? name
            guard let record = byRoot[root] else {
                unlink(directory.outgoing + "/" + name)
                continue
            }
            if !Self.stillSending(record), name.hasSuffix(".ct") || name.hasSuffix(".hashes") { unlink(directory.outgoing + "/" + name) }
        }
        AttachmentDirectory.syncDirectory(directory.outgoing)
    }
}
