import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASTransport
import Metrics

// A sender sealing two contents under one envelope id to two recipients: each recipient
// tells the other co-recipients what it logged (SEEN_ENVELOPES, 0x24, batched); one that
// logged other bytes under that (sender, id) asks for the copy (ENVELOPE_COPY, 0x25) and
// keeps both sender-signed envelopes as evidence.
extension Node {
    /// Where equivocation evidence is kept: `DATA/evidence/equivocation/SENDER-ID.json`.
    var equivocationDirectory: String { witnessFolder.evidenceDirectory + "/equivocation" }

    /// A notification from its sender was logged: its digest goes to every other recipient
    /// that is our peer, with the next batch (at once when a batch is full).
    func noteForCoRecipients(_ envelope: Envelope) async {
        let header = envelope.header
        let others = header.recipients.filter { $0 != center && $0 != header.sender && peers[$0] != nil }
        guard !others.isEmpty else { return }
        let item = SeenEnvelope(key: EnvelopeKey(sender: header.sender, id: header.id), sha256: envelope.sha256)
        history.remember(item)
        var full = false
        for peer in others where history.queue(item, for: peer) { full = true }
        if full { await flushSeen() }
    }

    /// Sends each peer one frame of the digests gathered for it; a batch whose link is down waits.
    func flushSeen() async {
        for (peer, batch) in history.takeSeen() where !(await sendHistory(.history(.seenEnvelopes, SeenEnvelope.body(batch)), to: peer)) {
            history.putBack(batch, for: peer)
        }
    }

    /// `peer` logged these: any (sender, id) we logged with other bytes, we ask it for its copy.
    func seenArrived(_ body: [UInt8], from peer: CenterID) async {
        guard let items = SeenEnvelope.parse(body) else {
            logger.warning("a SEEN_ENVELOPES frame that does not parse; ignored", metadata: ["peer": "\(peer)", "bytes": "\(body.count)"])
            Metrics.Counter(label: "iias_history_frames_refused_total", dimensions: [("peer", peer.rawValue)]).increment()
            return
        }
        for item in items {
            let ours: [UInt8]?
            if let recent = history.recentDigest(of: item.key) { ours = recent } else {
                ours = ledger.incoming[item.key.sender, item.key.id].flatMap { digest(ofEntry: $0.index) }
            }
            guard let ours, ours != item.sha256 else { continue }
            history.asked.insert(HistoryExchange.askKey(peer, item.key))
            logger.warning("a co-recipient logged other bytes under an envelope id we logged; asking for its copy",
                           metadata: ["peer": "\(peer)", "envelope": "\(item.key)"])
            _ = await sendHistory(.history(.envelopeCopy, [Self.copyRequest] + Array("\(item.key)".utf8)), to: peer)
        }
    }

    /// First byte of an ENVELOPE_COPY body: a request (`SENDER/ID`) or an answer (the envelope's bytes).
    static let copyRequest: UInt8 = 0, copyAnswer: UInt8 = 1

    func envelopeCopyArrived(_ body: [UInt8], from peer: CenterID) async {
        switch body.first {
        case Self.copyRequest: await copyRequested(String(decoding: body.dropFirst(), as: UTF8.self), by: peer)
        case Self.copyAnswer: await copyAnswered(Array(body.dropFirst()), by: peer)
        default: logger.warning("an ENVELOPE_COPY frame that is neither request nor answer; ignored", metadata: ["peer": "\(peer)"])
        }
    }

    /// Sends `peer` our logged copy of `SENDER/ID`, when `peer` is among its recipients.
    private func copyRequested(_ name: String, by peer: CenterID) async {
        let parts = name.split(separator: "/")
        guard parts.count == 2, let sender = CenterID(String(parts[0])), let id = UUID(uuidString: String(parts[1])),
              let known = ledger.incoming[sender, id], let bytes = try? log.entry(at: known.index).payload,
              let envelope = try? Envelope(parsing: bytes), envelope.header.recipients.contains(peer) else {
            logger.notice("an envelope copy asked for that we do not hold for that peer", metadata: ["peer": "\(peer)", "envelope": "\(name.prefix(80))"])
            return
        }
        _ = await sendHistory(.history(.envelopeCopy, [Self.copyAnswer] + bytes), to: peer)
    }

    /// `peer`'s copy of an envelope we asked for: signed by its sender, other bytes than
    /// ours under the same (sender, id) — the evidence is kept and the operators told.
    private func copyAnswered(_ bytes: [UInt8], by peer: CenterID) async {
        guard let theirs = try? Envelope(parsing: bytes) else {
            logger.warning("an envelope copy that does not parse; ignored", metadata: ["peer": "\(peer)"])
            return
        }
        let key = EnvelopeKey(sender: theirs.header.sender, id: theirs.id)
        guard history.asked.remove(HistoryExchange.askKey(peer, key)) != nil else {
            logger.notice("an envelope copy we did not ask for; ignored", metadata: ["peer": "\(peer)", "envelope": "\(key)"])
            return
        }
        guard let known = ledger.incoming[key.sender, key.id], let ours = try? log.entry(at: known.index).payload, ours != bytes else { return }
        let evidence = EquivocationEvidence(first: ours, second: bytes)
        do {
            try evidence.verify(with: crypto.verifier)
        } catch {
            logger.warning("a co-recipient's copy does not prove an equivocation", metadata: ["peer": "\(peer)", "envelope": "\(key)", "error": "\(error)"])
            return
        }
        let path = equivocationDirectory + "/\(key.sender.rawValue)-\(key.id.uuidString.lowercased()).json"
        do {
            try FileManager.default.createDirectory(atPath: equivocationDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if !FileManager.default.fileExists(atPath: path) { try DurableFile.write(evidence.fileBytes, to: path) }
        } catch {
            logger.error("cannot keep equivocation evidence", metadata: ["path": "\(path)", "error": "\(error)"])
        }
        raise(Self.equivocationAlarm(key, path: path, reportedBy: peer), metric: "iias_equivocation_total")
    }

    private static func equivocationAlarm(_ key: EnvelopeKey, path: String, reportedBy peer: CenterID?) -> HistoryAlarm {
        HistoryAlarm(kind: .equivocation, center: key.sender,
                     detail: "\(key.sender) signed two different envelopes under id \(key.id.uuidString.lowercased())"
                         + (peer.map { "; \($0) holds the other" } ?? ""), evidence: path)
    }

    /// One alarm per equivocation evidence file kept.
    func equivocationAlarms() -> [HistoryAlarm] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: equivocationDirectory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.compactMap { name in
            let stem = name.dropLast(5)
            guard stem.count > 37 else { return nil }
            let idStart = stem.index(stem.endIndex, offsetBy: -36)
            guard let sender = CenterID(String(stem[..<stem.index(before: idStart)])), let id = UUID(uuidString: String(stem[idStart...])) else { return nil }
            return Self.equivocationAlarm(EnvelopeKey(sender: sender, id: id), path: equivocationDirectory + "/" + name, reportedBy: nil)
        }
    }
}
