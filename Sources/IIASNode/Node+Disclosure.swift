import Foundation
import IIASCrypto
import IIASLog
import IIASModel

// A node restored from an older copy may have signed tree heads of its old origin before
// any witness told it what it had cosigned (an unmarked copy, every peer unreachable):
// a second history nobody cosigned. It does not hide it: each witness holding the other
// history is offered the newest such tree head, with the consistency proof our log can
// give, and keeps the pair as split-view evidence (never cosigning it). The fork is then
// on record where the first history is, for auditors, instead of only in our own log.
extension Node {
    /// The newest tree head of `origin` our log holds from index `size` up to `end` (the
    /// epoch's first entry), nil when none.
    func newestTreeHead(of origin: String, loggedSince size: UInt64, before end: UInt64?) -> (note: SignedNote, checkpoint: Checkpoint)? {
        let end = min(end ?? log.count, log.count)
        guard size < end, let entries = try? log.readEntries(size..<end) else { return nil }
        for entry in entries.reversed() where entry.type == .treeHead {
            guard let note = try? SignedNote(parsing: String(decoding: entry.payload, as: UTF8.self)),
                  let checkpoint = try? note.checkpoint(), checkpoint.origin == origin else { continue }
            return (note, checkpoint)
        }
        return nil
    }

    /// `witness` showed `held`, a checkpoint of an origin we no longer sign (we were
    /// restored). If our log signed a tree head of that origin since the restore that
    /// contradicts it, the witness is offered that tree head, once.
    func discloseForkedHead(to witness: CenterID, holding held: Checkpoint) async {
        guard witnessOffers.disclosures[witness] == nil else { return await sendDisclosure(to: witness) }
        guard let restored = LogEpochFile.read(dataDirectory: configuration.dataDirectory),
              !(restored.disclosedTo ?? []).contains(witness.rawValue),
              let request = forkedHeadRequest(since: restored.restoredSize, before: restored.startIndex, against: held) else { return }
        logger.warning("before it learned of the restore, our log signed a tree head of its old origin that contradicts what a witness cosigned; offering it to that witness as evidence",
                       metadata: ["witness": "\(witness)", "origin": "\(held.origin)", "held": "\(held.treeSize)",
                                  "signed": "\(request.checkpoint.treeSize)"])
        witnessOffers.disclosures[witness] = request
        await sendDisclosure(to: witness)
    }

    /// `witness` answered our disclosure: noted, so that it is made once.
    func disclosureAnswered(by witness: CenterID, status: Int) {
        witnessOffers.disclosures[witness] = nil
        guard var restored = LogEpochFile.read(dataDirectory: configuration.dataDirectory) else { return }
        restored.disclosedTo = (restored.disclosedTo ?? []) + [witness.rawValue]
        try? restored.write(dataDirectory: configuration.dataDirectory)
        logger.notice("a witness answered the disclosure of our old origin's contradicting tree head (422: it keeps the evidence)",
                      metadata: ["witness": "\(witness)", "status": "\(status)"])
    }

    /// The add-checkpoint request that shows a witness holding `held` our newest tree head of
    /// the same origin signed at `size` or later: from the size it holds, with our log's proof.
    /// Nil when there is none, when it is smaller than what the witness holds (no proof can
    /// relate the two), or when our tree agrees with the witness (nothing contradicts).
    private func forkedHeadRequest(since size: UInt64, before end: UInt64?, against held: Checkpoint) -> AddCheckpointRequest? {
        guard let (note, head) = newestTreeHead(of: held.origin, loggedSince: size, before: end), head.treeSize >= held.treeSize,
              let tree = try? log.merkleTree(), let ours = try? tree.rootHash(treeSize: held.treeSize), ours != held.rootHash,
              let proof = try? (head.treeSize == held.treeSize ? [] : tree.consistencyProof(from: held.treeSize, to: head.treeSize)) else { return nil }
        return try? AddCheckpointRequest(oldSize: held.treeSize, proof: proof, note: note)
    }

    /// Sends the disclosure waiting for `witness` unless a request to it awaits its answer
    /// (answers come in order; it goes after that one). It waits until answered: a link that
    /// was down, or went down before the answer, sends it again when it comes up.
    func sendDisclosure(to witness: CenterID) async {
        guard witnessOffers.pending[witness] == nil, let link = peers[witness],
              let request = witnessOffers.disclosures[witness] else { return }
        witnessOffers.pending[witness] = WitnessOffers.Offer(note: request.note, retried: true, disclosure: true)
        if !(await link.sendWitnessRequest(Array(request.text.utf8))) { witnessOffers.pending[witness] = nil }
    }
}
