import Foundation
import IIASCrypto
import IIASLog
import IIASModel

// What a recipient's keys add to the keyless check: the plaintext itself.
extension StoredAttachmentAudit {
    /// Opens every received notification of `log` that `keys` can open and, for each of its
    /// sealed attachments, checks that the logged attachment record names the seal's root
    /// and that the stored ciphertext decrypts, chunk by chunk, to a file whose SHA-256 is
    /// the seal's (AttachmentDecryptor checks the root and the digest as it goes).
    /// An attachment not logged as stored (still arriving) is listed as such.
    public static func run(_ log: LogStore, attachmentsDirectory: String, keys: CenterKeys, verifier: EnvelopeVerifier) -> StoredAttachmentAudit {
        var logged: [String: (index: UInt64, record: AttachmentLogRecord)] = [:]
        var index: UInt64 = 0
        for entry in log.entries() {
            defer { index += 1 }
            guard entry.type == .operatorAction, let record = AttachmentLogRecord(json: entry.payload), record.direction == .received else { continue }
            let key = "\(record.sender.rawValue)/\(record.envelope.uuidString.lowercased())/\(record.index)"
            if logged[key] == nil { logged[key] = (index, record) }
        }
        var audit = StoredAttachmentAudit(checked: 0, problems: [])
        index = 0
        for entry in log.entries() {
            defer { index += 1 }
            guard entry.type == .received, let envelope = try? Envelope(parsing: entry.payload),
                  let notification = try? verifier.verify(envelope, at: entry.time).open(as: keys.center, with: keys.encryptionKey) else { continue }
            for (position, attachment) in notification.attachments.enumerated() where attachment.encryption != nil {
                let key = "\(notification.sender.rawValue)/\(notification.id.uuidString.lowercased())/\(position)"
                audit.checked += 1
                guard let (recordIndex, record) = logged[key] else {
                    audit.problems.append(Problem(index: index, file: "", root: attachment.encryption?.root ?? "", why: "\(attachment.name): not logged as stored (still arriving, or lost)"))
                    continue
                }
                if let why = opened(attachment, at: attachmentsDirectory + "/" + record.storedPath, record: record) {
                    audit.problems.append(Problem(index: recordIndex, file: record.storedPath, root: record.root, why: "\(attachment.name): \(why)"))
                }
            }
        }
        return audit
    }

    /// Why `attachment`'s stored ciphertext does not open to the sealed file; nil when it does.
    static func opened(_ attachment: Attachment, at path: String, record: AttachmentLogRecord) -> String? {
        guard let seal = try? AttachmentSeal(attachment) else { return "the seal does not read" }
        guard seal.root.hexString == record.root else { return "the logged root \(record.root.prefix(16))… is not the seal's \(seal.root.hexString.prefix(16))…" }
        guard let handle = FileHandle(forReadingAtPath: path) else { return "missing" }
        defer { try? handle.close() }
        do { try AttachmentDecryptor(seal: seal).decrypt(reading: handle) { _ in } } catch { return "does not open to the sealed file: \(error)" }
        return nil
    }
}
