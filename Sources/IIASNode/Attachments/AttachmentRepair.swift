import Foundation
import IIASCrypto
import IIASModel
import IIASTransport
import Metrics

/// What one batch of a peer's attachment frames came to: the answers to write (after
/// what they acknowledge is fsynced), why a chunk was rejected (the connection then
/// closes with ERROR 6: the sender resends from the last acknowledged chunk), and the
/// attachments the batch completed (each gets its log record).
struct ChunkAnswers: Sendable {
    var frames: [Frame]
    var rejected: String?
    var completed: [IncomingAttachment]
}

/// Damage to a received attachment found on disk, and its repair: the first chunk that no
/// longer matches the leaf hash recorded when it arrived (itself checked against the
/// notification's root) is re-requested from the sender, which still holds its ciphertext.
/// The request is a CHUNK_ACK naming that chunk, written on the connection the sender
/// opened to us (at once when one is open, else when it next connects); a sender that
/// delivered the attachment resumes it from there.
extension AttachmentReceiver {
    private func hashesPath(_ key: String) -> String { directory.incoming + "/" + key + ".hashes" }

    /// Records chunk `index`'s leaf hash (checked against the root by its proof) beside the ciphertext.
    func storeLeafHash(_ leaf: [UInt8], index: Int, of record: IncomingAttachment) throws {
        let fd = Foundation.open(hashesPath(record.key), O_WRONLY | O_CREAT, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        try leaf.withUnsafeBytes { try AttachmentDirectory.writeAll(fd, $0, at: index * 32) }
        guard fsync(fd) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// The leaf hashes recorded for `record`, if they are all there and hash to its root.
    private func trustedLeafHashes(_ record: IncomingAttachment) -> [[UInt8]]? {
        guard let data = FileManager.default.contents(atPath: hashesPath(record.key)), data.count == record.chunkCount * 32 else { return nil }
        let flat = [UInt8](data)
        let leaves = stride(from: 0, to: flat.count, by: 32).map { Array(flat[$0..<($0 + 32)]) }
        var frontier = MerkleFrontier()
        for leaf in leaves { _ = frontier.append(leafHash: leaf) }
        return frontier.rootHash.hexString == record.root ? leaves : nil
    }

    /// Where the stored ciphertext of `record` first goes wrong, and how; nil when every
    /// byte is the committed one. Without trusted leaf hashes the first chunk is named.
    func firstDamage(_ record: IncomingAttachment) -> (chunk: Int, why: String)? {
        let path = ciphertextPath(record.key)
        let fd = Foundation.open(path, O_RDONLY)
        guard fd >= 0 else { return (0, "the stored ciphertext is missing") }
        defer { close(fd) }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? Int(info.st_size) : -1
        guard let nonce = AttachmentDirectory.readExactly(fd, count: AttachmentSeal.nonceByteCount, at: 0),
              Data(nonce).base64EncodedString() == record.nonce else { return (0, "the stored ciphertext's nonce is altered or missing") }
        let leaves = trustedLeafHashes(record)
        var frontier = MerkleFrontier()
        for index in 0..<record.chunkCount {
            let range = record.range(ofChunk: index)
            guard let chunk = AttachmentDirectory.readExactly(fd, count: range.count, at: range.lowerBound) else {
                return (index, "the stored ciphertext is truncated (\(size) of \(record.ciphertextBytes) bytes)")
            }
            let leaf = AttachmentSeal.chunkHash(chunk)
            if let leaves, leaves[index] != leaf { return (index, "chunk \(index) of the stored ciphertext is altered") }
            _ = frontier.append(leafHash: leaf)
        }
        if frontier.rootHash.hexString != record.root { return (0, "the stored ciphertext no longer matches the notification's commitment") }
        if size != record.ciphertextBytes { return (record.chunkCount, "the stored ciphertext has \(size - record.ciphertextBytes) bytes past its end") }
        return nil
    }

    /// Checks a complete attachment's stored ciphertext; when damaged, the damage is cut
    /// off, the attachment goes back to receiving from the first bad chunk, and the sender
    /// is asked for the rest. Returns why it was damaged (nil when intact).
    func repairIfDamaged(_ record: IncomingAttachment) -> String? {
        guard record.state == .complete, let damage = firstDamage(record) else { return nil }
        let why = damage.why + "; re-fetching from chunk \(damage.chunk) from \(record.sender)"
        var repaired = record
        let cut = damage.chunk < record.chunkCount ? record.range(ofChunk: damage.chunk).lowerBound : record.ciphertextBytes
        _ = truncate(ciphertextPath(record.key), off_t(damage.chunk == 0 ? 0 : cut))
        repaired.held = damage.chunk == record.chunkCount ? record.chunkCount : damage.chunk
        repaired.state = repaired.held == record.chunkCount ? .complete : .receiving
        repaired.reason = repaired.state == .complete ? nil : why
        records.withLock { $0[record.key] = repaired }
        persist(repaired)
        logger.warning("stored attachment damaged", metadata: ["attachment": "\(record.key)", "reason": "\(why)"])
        Metrics.Counter(label: "iias_attachment_refetches_total").increment()
        guard repaired.state == .receiving, let sender = CenterID(rawValue: record.sender), let root = [UInt8](hexString: record.root) else { return why }
        requestFromSender(sender, [AttachmentFrame.ack(root: root, held: repaired.held).frame])
        return why
    }

    /// Writes `frames` on the connection `sender` opened to us, or keeps them for its next one.
    private func requestFromSender(_ sender: CenterID, _ frames: [Frame]) {
        if let connection = senderConnections.withLock({ $0[sender] }) { return connection.write(frames) }
        refetches.withLock { $0[sender, default: []] += frames }
    }

    /// `sender`'s connection to us is up (`write` sends on it): pending re-fetch requests go now.
    func senderConnected(_ sender: CenterID, token: ObjectIdentifier, write: @escaping @Sendable ([Frame]) -> Void) {
        senderConnections.withLock { $0[sender] = (token, write) }
        let pending = refetches.withLock { $0.removeValue(forKey: sender) ?? [] }
        if !pending.isEmpty { write(pending) }
    }

    /// The connection `token` from `sender` closed.
    func senderDisconnected(_ sender: CenterID, token: ObjectIdentifier) {
        senderConnections.withLock { if $0[sender]?.token == token { $0[sender] = nil } }
    }
}
