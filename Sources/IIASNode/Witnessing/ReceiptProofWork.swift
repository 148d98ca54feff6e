import Foundation
import IIASCrypto
import IIASLog
import IIASModel

/// What a recipient needs, off the node's actor, to build a sender's next RECEIPT_PROOF:
/// its log's stored hashes, the quorum checkpoint, and the sender's notifications it kept
/// in memory when it logged them. Only entries logged before the node started tracking
/// them (an earlier run) are read back from the log.
struct ReceiptProofSource: Sendable {
    let log: LogStore
    let peer: CenterID
    let treeSize: UInt64
    let note: SignedNote
    /// The sender's notifications at or after the batch's start, below `treeSize`.
    let owed: [ReceiptProofState.Owed]
    /// The log size from which `owed` is complete (nil: nothing is tracked).
    let tracked: UInt64?

    /// The proofs owed from `from` on: at most a frame's worth, and at most a scan limit
    /// of entries read back from the log.
    func batch(from: UInt64) throws -> ReceiptProofBatch {
        // The batch's proofs share most of their hashes: each is read from the log once.
        let tree = MerkleHashCache(try log.merkleTree())
        var items: [ReceiptProofBatch.Item] = []
        var index = from
        let tracked = tracked ?? .max
        let readEnd = min(treeSize, from + ReceiptProofState.scanLimit, tracked)
        while index < readEnd, items.count < ReceiptProofBatch.maximumItems {
            let entry = try log.entry(at: index)
            if entry.type == .received, let envelope = try? Envelope(parsing: entry.payload), envelope.header.sender == peer {
                items.append(.init(envelopeID: envelope.id, sha256: SHA256.hash(entry.payload), extra: EntryLeaf(entry: entry).extra,
                                   proof: try tree.inclusionProof(leafIndex: index, treeSize: treeSize)))
            }
            index += 1
        }
        if index >= tracked {
            let start = index
            index = treeSize
            for owed in owed.sorted(by: { $0.index < $1.index }) where owed.index >= start {
                if items.count == ReceiptProofBatch.maximumItems {
                    index = owed.index
                    break
                }
                let leaf = EntryLeaf(index: owed.index, timeMilliseconds: owed.timeMilliseconds, type: .received,
                                     leafHash: try tree.storedHash(level: 0, index: owed.index))
                items.append(.init(envelopeID: owed.envelopeID, sha256: owed.sha256, extra: leaf.extra,
                                   proof: try tree.inclusionProof(leafIndex: owed.index, treeSize: treeSize)))
            }
        }
        return ReceiptProofBatch(through: index, checkpoint: Array(note.text.utf8), items: items)
    }
}

/// A sender's check of a RECEIPT_PROOF, off the node's actor: the checkpoint against the
/// recipient's log keys and our witness quorum once, then each entry against the envelope
/// we sent and the receipt's index; what verifies goes into the recipient's proofs file.
struct ReceiptProofIntake: Sendable {
    /// Our envelope as the ledger knows it: where we logged it, and the recipient's index
    /// its receipt named.
    struct Sent: Sendable {
        var index: UInt64
        var recipientIndex: UInt64?
    }

    struct Outcome: Sendable {
        var kept = 0
        var again = 0
        var refused: [(UUID, String)] = []
    }

    let policy: TlogPolicy
    let skewSeconds: UInt64
    let log: LogStore
    /// Per item of the batch, our envelope of that id to this peer (nil: none).
    let sent: [Sent?]
    let files: ReceiptProofFiles
    let peer: CenterID

    /// Checks `batch` and appends what verifies to `file`; throws only when it cannot be kept.
    func keep(_ batch: ReceiptProofBatch, in file: ProofsFile) throws -> Outcome {
        var outcome = Outcome()
        let head: Result<(note: SignedNote, checkpoint: Checkpoint), any Error> = Result {
            guard let text = String(validating: batch.checkpoint, as: UTF8.self) else { throw LogProofError.malformed("the checkpoint is not UTF-8") }
            let note = try SignedNote(parsing: text)
            return (note, try policy.verify(note, options: Cosignature.VerifyOptions(maximumFutureSeconds: skewSeconds)).0)
        }
        var verified: [ProofsFile.Proof] = []
        // One look for the folder of a node from before the proofs files, not one a proof.
        let legacyFolder = files.hasLegacyFolder(of: peer)
        for (item, sent) in zip(batch.items, sent) {
            do {
                try check(item, sent: sent, head: head.get().checkpoint)
                if file.contains(item.envelopeID) || (legacyFolder && files.hasLegacyBundle(from: peer, envelope: item.envelopeID)) {
                    outcome.again += 1
                } else {
                    verified.append(.init(envelopeID: item.envelopeID, sha256: item.sha256, extra: item.extra, proof: item.proof))
                }
            } catch {
                outcome.refused.append((item.envelopeID, "\(error)"))
            }
        }
        if let note = try? head.get().note, !verified.isEmpty {
            let written = try file.append(checkpoint: Array(note.text.utf8), verified)
            outcome.kept += written
            outcome.again += verified.count - written
        }
        return outcome
    }

    /// One entry against what we sent and what the recipient's receipt said.
    private func check(_ item: ReceiptProofBatch.Item, sent: Sent?, head: Checkpoint) throws {
        guard let sent, let bytes = try? log.entry(at: sent.index).payload else { throw LogProofError.invalid("no envelope of ours to this peer has this id") }
        guard SHA256.hash(bytes) == item.sha256 else { throw LogProofError.invalid("the SHA-256 named is not that of the envelope we sent") }
        let bundle = item.bundle(checkpoint: SignedNote(body: "", signatures: []))
        if let index = sent.recipientIndex, index != bundle.index {
            throw LogProofError.invalid("the receipt named the recipient's entry \(index), the proof entry \(bundle.index)")
        }
        let leaf = try bundle.entryLeaf(payload: bytes, expectedType: .received)
        try bundle.verifyInclusion(leafHash: leaf.leafHash, in: head)
    }
}
