import Foundation
import IIASAPI
import IIASCrypto
import IIASModel
import Logging
import Synchronization

/// The node's attachments: uploads being encrypted, what we send (one `AttachmentSender`
/// per peer link) and what we receive (`AttachmentReceiver`), all under DATA/attachments.
/// Its state is files and counts, never keys: a restart finds every transfer where its
/// last durable step left it. Thread-safe; file work runs on the caller's task, never on
/// an event loop.
final class AttachmentCenter: Sendable {
    let directory: AttachmentDirectory
    let limit: Int
    let receiver: AttachmentReceiver
    let logger: Logger
    private let uploads = Mutex<[UUID: AttachmentUpload]>([:])
    /// Finished uploads no draft has named yet: the seal stays in memory only.
    private let sealed = Mutex<[UUID: AttachmentUpload.Finished]>([:])
    let outgoing: Mutex<[String: OutgoingAttachment]>
    private let senders = Mutex<[CenterID: AttachmentSender]>([:])
    /// This node's center and where its attachment log records go (set by the node).
    let logRecorder = Mutex<(CenterID, @Sendable ([AttachmentLogRecord]) async -> Bool)?>(nil)
    /// Held while a record is written: two recipients ending at once write in turn, the
    /// last write holding both outcomes.
    let saving = Mutex(())
    /// Roots being released now (the watcher and an end may both look).
    let releasing = Mutex<Set<String>>([])
    /// How long sent ciphertext stays after every recipient ended (a recipient whose copy
    /// is damaged fetches it again meanwhile); 0 releases it at once.
    let sentRetention: TimeInterval
    /// Chunks a link may have unacknowledged per transfer (`AttachmentSender.window`).
    let chunkWindow: Int

    init(dataDirectory: String, limit: Int, spare: Int = 64 << 20, sentRetention: TimeInterval = 30 * 86_400, chunkWindow: Int = 32,
         logger: Logger) throws {
        self.sentRetention = sentRetention
        self.chunkWindow = chunkWindow
        signal(SIGPIPE, SIG_IGN)  // an upload's encryption that stops must not kill the node through its pipe
        directory = try AttachmentDirectory(dataDirectory: dataDirectory)
        self.limit = limit
        self.logger = logger
        receiver = AttachmentReceiver(directory: directory, limit: limit, spare: spare, logger: logger)
        let records = directory.load(OutgoingAttachment.self, in: directory.outgoing)
        outgoing = Mutex(Dictionary(records.map { ($0.root, $0) }, uniquingKeysWith: { first, _ in first }))
        removeUnneeded(records)
        watchForStalls()
    }

    // MARK: - Uploads

    /// Uploads in progress at once (each holds a thread and a pipe until it ends).
    static let maxOpenUploads = 16

    /// Starts an upload of `bytes` bytes; refused over the limit or beyond the free space.
    func beginUpload(bytes: Int) throws(UploadProblem) -> UUID {
        guard bytes <= limit else {
            throw UploadProblem("the file is \(bytes) bytes; this node's limits.maxAttachmentBytes is \(limit) bytes")
        }
        let needed = AttachmentEncryption.ciphertextBytes(size: bytes, chunkSize: AttachmentSeal.defaultChunkSize)
        if let free = AttachmentDirectory.freeBytes(directory.path), free < needed + (64 << 20) {
            throw UploadProblem("not enough space for the file: \(needed) bytes needed, \(free) free")
        }
        guard uploads.withLock({ $0.count }) < Self.maxOpenUploads else {
            throw UploadProblem("\(Self.maxOpenUploads) uploads are in progress; finish one first")
        }
        let id = UUID()
        do {
            let upload = try AttachmentUpload(id: id, expectedBytes: bytes, ciphertextPath: uploadPath(id))
            uploads.withLock { $0[id] = upload }
        } catch { throw UploadProblem("cannot start the upload: \(error)") }
        return id
    }

    private func uploadPath(_ id: UUID) -> String { directory.outgoing + "/upload-" + id.uuidString.lowercased() + ".ct" }

    func upload(_ id: UUID) -> AttachmentUpload? { uploads.withLock { $0[id] } }

    /// Ends an upload: the ciphertext takes its root's name, with its chunk hashes beside it.
    func finishUpload(_ id: UUID) throws -> AttachmentUpload.Finished {
        guard let upload = uploads.withLock({ $0.removeValue(forKey: id) }) else { throw UploadProblem("no upload \(id.uuidString.lowercased()) in progress") }
        var finished = try upload.finish()
        let base = directory.outgoing + "/" + finished.seal.root.hexString
        let hashesFD = open(base + ".hashes", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard hashesFD >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(hashesFD) }
        try finished.chunkHashes.withUnsafeBytes { try AttachmentDirectory.writeAll(hashesFD, $0, at: 0) }
        guard fsync(hashesFD) == 0, rename(finished.ciphertext, base + ".ct") == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        AttachmentDirectory.syncDirectory(directory.outgoing)
        finished.ciphertext = base + ".ct"
        sealed.withLock { $0[id] = finished }
        return finished
    }

    /// The attachment a draft's `{"upload": ID, "name": …, "mediaType": …}` stands for.
    func attachment(forUpload id: UUID, name: String, mediaType: String) -> Attachment? {
        sealed.withLock { $0[id] }.map { $0.seal.attachment(name: name, mediaType: mediaType) }
    }

    // MARK: - Sending

    /// The sender for `peer`'s link, made on first use.
    func sender(for peer: CenterID) -> AttachmentSender {
        senders.withLock { senders in
            if let sender = senders[peer] { return sender }
            let sender = AttachmentSender(peer: peer, directory: directory, window: chunkWindow) { [weak self] root, delivered, reason, written in
                self?.ended(root, to: peer, delivered: delivered, reason: reason, written: written)
            }
            sender.onUnknownAck { [weak self] root, held in self?.refetchRequested(root, by: peer, from: held) }
            senders[peer] = sender
            return sender
        }
    }

    /// Every link's sender made so far.
    func allSenders() -> [AttachmentSender] { senders.withLock { Array($0.values) } }

    /// Whether an upload finished here has the commitment `root` (and no draft took it yet).
    func holdsUpload(root: String) -> Bool { sealed.withLock { $0.values.contains { $0.seal.root.hexString == root } } }

    /// Notification `envelope` carrying the uploads committed to by `roots` was logged for
    /// `recipients`: their attachments are recorded (durably) and handed to each
    /// recipient's link, to go once the notification is answered.
    func submitted(roots: [String], envelope: UUID, recipients: [CenterID]) {
        for root in roots {
            let taken = sealed.withLock { sealed in sealed.first { $0.value.seal.root.hexString == root }.flatMap { sealed.removeValue(forKey: $0.key) } }
            guard let finished = taken else { continue }
            let record = OutgoingAttachment(root: finished.seal.root.hexString, envelope: envelope, chunkSize: finished.seal.chunkSize,
                                            plaintextBytes: finished.seal.plaintextSize,
                                            recipients: Dictionary(uniqueKeysWithValues: recipients.map { ($0.rawValue, "waiting") }))
            save(record)
            for recipient in recipients { sender(for: recipient).add(record, due: false) }
        }
    }

    /// At start: every attachment still waiting for a recipient goes back to that
    /// recipient's link, due at once when `isAnswered` says its notification was answered.
    func resume(isAnswered: (UUID, CenterID) -> Bool) {
        for record in outgoing.withLock({ Array($0.values) }) {
            for (center, state) in record.recipients where state == "waiting" {
                guard let peer = CenterID(rawValue: center) else { continue }
                sender(for: peer).add(record, due: isAnswered(record.envelope, peer))
            }
        }
    }

    /// Records `record`, durably; false when the disk refused it (logged).
    @discardableResult
    func save(_ record: OutgoingAttachment) -> Bool {
        outgoing.withLock { $0[record.root] = record }
        do { try directory.save(record, to: directory.outgoing + "/" + record.root + ".json") } catch {
            logger.error("cannot save an attachment's state", metadata: ["attachment": "\(record.root)", "error": "\(error)"])
            return false
        }
        return true
    }

    private func ended(_ root: String, to peer: CenterID, delivered: Bool, reason: String, written: Int) {
        // Updated in place, not on a copy: another recipient's end may be recorded at the same time.
        let updated = outgoing.withLock { all -> OutgoingAttachment? in
            all[root]?.recipients[peer.rawValue] = delivered ? "delivered" : "refused: " + reason
            if let record = all[root], !Self.stillSending(record), record.endedAt == nil { all[root]?.endedAt = Date() }
            return all[root]
        }
        guard let record = updated else { return }
        let saved = saving.withLock { _ in outgoing.withLock({ $0[root] }).map { save($0) } ?? false }
        // Only once the record saying so is durable: until then a restart still needs the files.
        if saved, !Self.stillSending(record), sentRetention <= 0 { Task { await self.releaseExpired() } }
        logger.info(delivered ? "attachment delivered" : "attachment refused",
                    metadata: ["peer": "\(peer)", "attachment": "\(root)", "chunks": "\(record.chunkCount)", "chunksWritten": "\(written)",
                               "reason": "\(reason)"])
    }

    // MARK: - Views

    /// Per attachment of our notification `envelope`, per recipient: waiting,
    /// transferring n%, delivered, or refused: why.
    func outgoingStates(of envelope: UUID) -> [AttachmentDelivery] {
        outgoing.withLock { Array($0.values) }.filter { $0.envelope == envelope }.sorted { $0.root < $1.root }.map { record in
            let states = record.recipients.map { center, state -> AttachmentDelivery.Recipient in
                var shown = state
                if state == "waiting", let peer = CenterID(rawValue: center), let progress = senders.withLock({ $0[peer] })?.progress(of: record.root) {
                    let percent = progress.held * 100 / max(1, progress.count)
                    if progress.stalled { shown = "waiting: \(center) holds \(percent)% and takes no more yet (probing every few seconds)" }
                    else if progress.held > 0 { shown = "transferring \(percent)%" }
                }
                return .init(center: center, state: shown)
            }
            return AttachmentDelivery(root: record.root, bytes: record.plaintextBytes, recipients: states.sorted { $0.center < $1.center },
                                      chunkSize: record.chunkSize, chunkCount: record.chunkCount, storedPath: directory.outgoing + "/" + record.root + ".ct")
        }
    }

    /// Where an attachment from `sender` stands here: complete (its stored ciphertext
    /// checked against the commitment now), receiving n%, or failed: why — damage found
    /// now is shown as failed once, while the attachment is re-fetched from the first bad chunk.
    func incomingState(sender: String, root: String) -> IncomingAttachment? {
        guard var record = receiver.record(sender: sender, root: root) else { return nil }
        if let damage = receiver.repairIfDamaged(record) {
            record.state = .failed
            record.reason = damage
        }
        record.storedPath = receiver.ciphertextPath(record.key)
        return record
    }
}
