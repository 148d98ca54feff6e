import Foundation
import IIASCrypto
import IIASModel
import IIASTransport
import Logging
import Metrics
import Synchronization

/// The attachments peers send us: announced by a notification we logged (its seal's root,
/// size and chunking, never its key), then written chunk by chunk as CHUNK frames arrive —
/// each checked first against the commitment with the inclusion proof it carries, in
/// order, ciphertext only, fsynced before it is acknowledged. A chunk that fails its proof
/// or its length is never written: what came before it is acknowledged and the connection
/// is closed with ERROR 6, so the sender resends from the last durable chunk (see
/// AttachmentRepair.swift for damage found later on disk). A size over
/// `limits.maxAttachmentBytes` is refused before any chunk is written; when the free space
/// cannot take the next chunk and `limits.attachmentSpareBytes`, the attachment waits for
/// space: nothing more is written and the sender, hearing no progress, probes again.
final class AttachmentReceiver: Sendable {
    let directory: AttachmentDirectory
    private let limit: Int
    /// Free bytes kept beside attachments (`limits.attachmentSpareBytes`).
    let spare: Int
    let logger: Logger
    /// Re-fetch requests (CHUNK_ACK from the first damaged chunk) per sender, and the
    /// writers of the connections each sender opened to us (AttachmentRepair.swift).
    let refetches = Mutex<[CenterID: [Frame]]>([:])
    let senderConnections = Mutex<[CenterID: (token: ObjectIdentifier, write: @Sendable ([Frame]) -> Void)]>([:])
    let records: Mutex<[String: IncomingAttachment]>
    /// Refusals decided when a notification was logged (over the limit), per sender: sent
    /// with its receipt, so that no chunk of them moves.
    private let refusals = Mutex<[CenterID: [Frame]]>([:])

    init(directory: AttachmentDirectory, limit: Int, spare: Int = 64 << 20, logger: Logger) {
        self.directory = directory
        self.limit = limit
        self.spare = spare
        self.logger = logger
        let loaded = directory.load(IncomingAttachment.self, in: directory.incoming)
        records = Mutex(Dictionary(loaded.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first }))
    }

    private func recordPath(_ key: String) -> String { directory.incoming + "/" + key + ".json" }
    func ciphertextPath(_ key: String) -> String { directory.incoming + "/" + key + ".ct" }

    /// The attachments of a notification from `sender` we just logged: known from now on,
    /// durably, before the notification's receipt leaves.
    func expect(_ announced: [AnnouncedAttachment], envelope: UUID, from sender: CenterID) {
        for item in announced {
            var record = IncomingAttachment(sender: sender.rawValue, envelope: envelope, root: item.root, nonce: item.nonce,
                                            chunkSize: item.chunkSize, plaintextBytes: item.plaintextBytes, held: 0, state: .receiving,
                                            position: item.position)
            if record.plaintextBytes > limit {
                record.state = .failed
                record.reason = "\(record.plaintextBytes) bytes is over this node's limits.maxAttachmentBytes (\(limit) bytes)"
            }
            let fresh = records.withLock { records -> Bool in
                guard records[record.key] == nil else { return false }
                records[record.key] = record
                return true
            }
            if fresh { persist(record) }
            if fresh, record.state == .failed, let root = [UInt8](hexString: record.root) {
                refusals.withLock { $0[sender, default: []].append(AttachmentFrame.end(root: root, complete: false, reason: record.reason ?? "").frame) }
            }
        }
    }

    func persist(_ record: IncomingAttachment) {
        do { try directory.save(record, to: recordPath(record.key)) } catch {
            logger.error("cannot save an attachment's state", metadata: ["attachment": "\(record.key)", "error": "\(error)"])
        }
    }

    /// The refusals to send `sender` with its receipts (taken once).
    func takeRefusals(for sender: CenterID) -> [Frame] { refusals.withLock { $0.removeValue(forKey: sender) ?? [] } }

    /// The record of `root` from `sender`.
    func record(sender: String, root: String) -> IncomingAttachment? { records.withLock { $0[sender + "-" + root] } }

    /// Handles the attachment frames of one batch from `peer`, in order, and returns the
    /// answers: one CHUNK_ACK or ATTACHMENT_END per attachment touched, sent only after
    /// what it acknowledges is fsynced; why a chunk was rejected (the rest of the batch is
    /// not read: the caller closes with ERROR 6 after the answers); the attachments it
    /// completed. Throws on a body that does not read (ERROR 1, close).
    func receive(_ frames: [(FrameType, [UInt8])], from peer: CenterID) throws(AttachmentFrame.Malformed) -> ChunkAnswers {
        var rejected: String?
        var completed: [IncomingAttachment] = []
        var touched: [String] = []
        var answers: [String: AttachmentFrame] = [:]
        var open: [String: Int32] = [:]
        defer { for fd in open.values { close(fd) } }
        for (type, body) in frames {
            let frame = try AttachmentFrame.parse(type, body)
            if case .end(let root, false, let reason) = frame {
                senderGaveUp(peer.rawValue + "-" + root.hexString, reason: reason)
                continue
            }
            guard case .chunk(let root, let index, let proof, let bytes) = frame else {
                throw AttachmentFrame.Malformed(description: "a recipient takes only CHUNK and refusing ATTACHMENT_END frames on this connection")
            }
            let key = peer.rawValue + "-" + root.hexString
            if !touched.contains(key) { touched.append(key) }
            guard var record = records.withLock({ $0[key] }) else {
                answers[key] = .end(root: root, complete: false, reason: "no notification from \(peer) that this node logged announces this attachment")
                continue
            }
            switch record.state {
            case .complete: answers[key] = .end(root: root, complete: true, reason: ""); continue
            case .failed: answers[key] = .end(root: root, complete: false, reason: record.reason ?? "failed"); continue
            case .receiving, .waitingForSpace: break
            }
            guard index == record.held else {
                Metrics.Counter(label: "iias_attachment_chunks_skipped_total").increment()
                continue  // a resend of what we hold, or past a gap: the ACK says where to go on
            }
            let range = record.range(ofChunk: index)
            guard hasSpace(for: &record, bytes: range.count) else { continue }  // the ACK names what is held
            let leaf = AttachmentSeal.chunkHash(bytes)
            guard bytes.count == range.count,
                  MerkleTreeHash.verifyInclusion(leafIndex: UInt64(index), treeSize: UInt64(record.chunkCount),
                                                 leafHash: leaf, proof: proof, root: root) else {
                rejected = bytes.count == range.count ? "chunk \(index) of \(record.root.prefix(12))… is not the one the notification committed to"
                    : "chunk \(index) of \(record.root.prefix(12))… is \(bytes.count) bytes, not \(range.count)"
                logger.warning("rejected an attachment chunk", metadata: ["peer": "\(peer)", "attachment": "\(record.root)", "reason": "\(rejected ?? "")"])
                Metrics.Counter(label: "iias_attachment_chunks_rejected_total").increment()
                break
            }
            do {
                let fd = try open[key] ?? openCiphertext(record)
                open[key] = fd
                try bytes.withUnsafeBytes { try AttachmentDirectory.writeAll(fd, $0, at: range.lowerBound) }
                try storeLeafHash(leaf, index: index, of: record)
            } catch {
                logger.error("cannot write an attachment chunk", metadata: ["attachment": "\(key)", "error": "\(error)"])
                continue
            }
            record.held += 1
            records.withLock { $0[key] = record }
            Metrics.Counter(label: "iias_attachment_chunks_received_total").increment()
        }
        var out: [Frame] = []
        for key in touched {
            if let answer = answers[key] { out.append(answer.frame); continue }
            guard var record = records.withLock({ $0[key] }), let root = [UInt8](hexString: record.root) else { continue }
            if let fd = open[key] { guard fsync(fd) == 0 else { continue } }
            if record.held == record.chunkCount {
                record.state = .complete
                record.reason = nil
                records.withLock { $0[key] = record }
                completed.append(record)
                logger.info("attachment received", metadata: ["peer": "\(peer)", "attachment": "\(record.root)", "chunks": "\(record.chunkCount)"])
            }
            persist(record)
            out.append(record.state == .complete ? AttachmentFrame.end(root: root, complete: true, reason: "").frame
                                                 : AttachmentFrame.ack(root: root, held: record.held).frame)
        }
        return ChunkAnswers(frames: out, rejected: rejected, completed: completed)
    }

    /// The sender will not send attachment `key` (again): one still being received fails
    /// with the sender's reason, e.g. "the sender no longer holds it" after a re-fetch.
    private func senderGaveUp(_ key: String, reason: String) {
        let failed = records.withLock { records -> IncomingAttachment? in
            guard var record = records[key], record.state == .receiving || record.state == .waitingForSpace else { return nil }
            record.state = .failed
            record.reason = String(reason.prefix(200))
            records[key] = record
            return record
        }
        if let failed {
            persist(failed)
            logger.notice("the sender will not send an attachment", metadata: ["attachment": "\(key)", "reason": "\(failed.reason ?? "")"])
        }
    }

    /// Opens the ciphertext file, writing the nonce it begins with when it is new.
    private func openCiphertext(_ record: IncomingAttachment) throws -> Int32 {
        let fd = Foundation.open(ciphertextPath(record.key), O_RDWR | O_CREAT, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        if record.held == 0, let nonce = Data(base64Encoded: record.nonce) {
            try nonce.withUnsafeBytes { try AttachmentDirectory.writeAll(fd, $0, at: 0) }
        }
        return fd
    }
}
