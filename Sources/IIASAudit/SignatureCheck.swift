import Foundation
import IIASCrypto
import IIASLog
import IIASModel
import Synchronization

/// Checks every tree head and envelope entry, on every core (chunks of consecutive
/// entries). An entry that fails its check (a signature, a revocation in force at its
/// time) is noted and the check goes on, so an auditor sees every such entry, each with
/// its reason; records that cannot be read end their chunk. `progress` hears of every
/// 16th chunk and of the last (entries checked, entries in all), from any thread.
func checkSignatures(_ log: LogStore, tree: any MerkleHashSource, verifier: EnvelopeVerifier,
                     progress: (@Sendable (UInt64, UInt64) -> Void)?) -> SignatureSummary {
    let count = log.count
    let chunk: UInt64 = 1024
    let chunks = Int((count + chunk - 1) / chunk)
    let shared = Mutex<(parts: [Int: SignatureSummary], checked: UInt64)>(([:], 0))
    DispatchQueue.concurrentPerform(iterations: chunks) { part in
        var summary = SignatureSummary()
        let start = UInt64(part) * chunk
        let entries = log.entries(from: start, to: min(count, start + chunk))
        var index = start
        for entry in entries {
            do { try checkEntry(entry, tree: tree, verifier: verifier, summary: &summary) } catch {
                summary.note(problem: (error as? EntryProblem)?.why ?? "\(error)", at: index)
            }
            index += 1
        }
        if let error = entries.error { summary.note(problem: "unreadable: \(error)", at: index) }
        let checked = shared.withLock { state in
            state.parts[part] = summary
            state.checked += min(count, start + chunk) - start
            return state.checked
        }
        if let progress, part % 16 == 0 || checked == count { progress(checked, count) }
    }
    var total = SignatureSummary()
    let parts = shared.withLock { $0.parts }
    for part in 0..<chunks {
        guard let summary = parts[part] else { continue }
        total.treeHeads += summary.treeHeads
        total.envelopes += summary.envelopes
        total.newestTreeHeadSize = summary.newestTreeHeadSize ?? total.newestTreeHeadSize
        total.merge(summary)
    }
    return total
}

/// Why one entry failed its check.
struct EntryProblem: Error { var why: String }

/// One entry's check: a tree head's signature, origin, size and root; an envelope's
/// signature and its sender's certificate at the time the log recorded it (the entry's
/// time, which the log's signed tree heads cover), with RFC 5280 semantics: a CRL issued
/// later is the evidence about that time, and a revocation counts from its date on.
private func checkEntry(_ entry: LogEntry, tree: any MerkleHashSource, verifier: EnvelopeVerifier,
                        summary: inout SignatureSummary) throws(EntryProblem) {
    func problem(_ why: String) -> EntryProblem { EntryProblem(why: why) }
    let index = entry.index
    switch entry.type {
    case .treeHead:
        let note = String(decoding: entry.payload, as: UTF8.self)
        let body: Checkpoint
        do { body = try SignedNote(parsing: note).checkpoint() } catch { throw problem("tree head: \(error)") }
        guard let center = Checkpoint.logOrigin(body.origin).flatMap({ CenterID($0.center) }) else {
            throw problem("tree head origin \(ShownText.safe(body.origin)) is not a center's log")
        }
        let candidates = verifier.certificates.certificates(of: center, for: .signing)
        guard !candidates.isEmpty else {
            throw problem("tree head: no signing certificate of \(center) in --certs")
        }
        // The certificate whose key signed the note (current or from the center's history).
        var signed: Checkpoint?, signer: Certificate?, lastError: (any Error)?
        for certificate in candidates {
            do {
                signed = try Checkpoint.verify(note: note, logOf: center.rawValue, publicKey: certificate.signingPublicKey())
                signer = certificate
                break
            } catch { lastError = error }
        }
        guard let signed, let signer else {
            throw problem("tree head: \(candidates.count == 1 ? "\(lastError.map { "\($0)" } ?? "")" : "the note verifies with none of the \(candidates.count) signing certificates of \(center)")")
        }
        do { try verifier.trust.verify(signer, for: .signing, of: center, at: entry.time) } catch { throw problem("tree head: \(error)") }
        summary.noteSigner(signer, of: center, at: entry.time, trust: verifier.trust)
        guard signed.treeSize == index else {
            throw problem("tree head size \(signed.treeSize) is not its own index")
        }
        guard (try? tree.rootHash(treeSize: signed.treeSize)) == signed.rootHash else {
            throw problem("tree head root does not match the recomputed root at size \(signed.treeSize)")
        }
        summary.treeHeads += 1
        summary.newestTreeHeadSize = max(summary.newestTreeHeadSize ?? 0, signed.treeSize)
    case .sent, .received, .receipt:
        do {
            let envelope = try Envelope(parsing: entry.payload)
            let verified = try verifier.verify(envelope, at: entry.time)
            summary.noteSigner(verified.senderCertificate, of: envelope.header.sender, at: entry.time, trust: verifier.trust)
        } catch { throw problem("\(entry.type) entry (judged at its log time \(Timestamp.formatWithMilliseconds(entry.time))): \(error)") }
        summary.envelopes += 1
    case .operatorAction:
        break
    }
}
