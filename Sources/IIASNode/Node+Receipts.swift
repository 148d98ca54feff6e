import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASTransport
import Logging
import Metrics
import NIOCore
import NIOPosix
import Synchronization

// Receipts for our envelopes: verified off the actor, matched, logged, settled.
extension Node {
    /// Receipts from `peer` on one of our links: parsed and verified concurrently outside
    /// the actor, matched to our envelopes, logged together. The envelopes the link stops
    /// sending (answered now or before), which it settles itself: no task in between.
    nonisolated func receiptsArrived(_ list: [[UInt8]], from peer: CenterID) async -> [UUID] {
        let crypto = self.crypto
        let checked: [Envelope?] = await concurrentMap(list) { bytes in
            guard let envelope = try? Envelope(parsing: bytes), envelope.header.kind == .receipt, envelope.header.sender == peer,
                  envelope.header.receipt?.outcome != .acknowledged,
                  (try? crypto.verifier.verify(envelope)) != nil else { return nil }
            return envelope
        }
        let rejected = checked.filter { $0 == nil }.count
        if rejected > 0 {
            Metrics.Counter(label: "iias_rejects_total", dimensions: [("reason", "bad-receipt")]).increment(by: rejected)
            logger.warning("receipts that do not parse or verify as this peer's", metadata: ["peer": "\(peer)", "count": "\(rejected)"])
        }
        return await recordReceipts(checked.compactMap { $0 }, from: peer)
    }

    /// Logs each receipt envelope that answers at least one of our envelopes still
    /// waiting for `peer` (a batch is logged whole, as signed; sorted by
    /// `InboundExchange.sortReceipts`); the envelopes settled.
    func recordReceipts(_ envelopes: [Envelope], from peer: CenterID) async -> [UUID] {
        // Refusals under the null id, matched by digest to what is in flight.
        var matched: [[UInt8]: UUID] = [:]
        var lines: [[InboundExchange.ReceiptLine]] = []
        for envelope in envelopes {
            var list: [InboundExchange.ReceiptLine] = []
            for receipt in envelope.header.receipts {
                var id: UUID? = receipt.envelopeID
                if receipt.envelopeID == Ledger.unparsedEnvelopeID, receipt.outcome == .refused {
                    // Bytes the recipient could not parse: the refusal names only their digest.
                    id = inFlightEnvelope(digest: receipt.envelopeSHA256, to: peer)
                    if let id { matched[receipt.envelopeSHA256] = id } else {
                        logger.notice("a refusal of bytes we did not send this peer", metadata: ["peer": "\(peer)", "sha256": "\(receipt.envelopeSHA256.hexString)"])
                    }
                }
                list.append(.init(id: id, sha256: receipt.envelopeSHA256, refuses: receipt.outcome == .refused, logIndex: receipt.logIndex))
            }
            lines.append(list)
        }
        // A peer refilled since start logged our envelopes again: its new receipts' indices are kept.
        let refilled = history.refillsServed[peer] != nil
        let outcome = InboundExchange.sortReceipts(lines) { id in
            guard let index = ledger.logIndex(ofOutgoing: id), let state = ledger.deliveryState(of: id, for: peer) else { return nil }
            if state == .queued || state == .sent { return .waiting(sha256: digest(ofEntry: index)) }
            guard refilled, state == .delivered else { return .answered }
            return .delivered(sha256: digest(ofEntry: index), recipientLogIndex: ledger.recipientLogIndex(of: id, for: peer))
        }
        if !outcome.reindexed.isEmpty {
            logger.notice("a refilled peer logged our envelopes again at other indices; its new receipts are kept",
                          metadata: ["peer": "\(peer)", "envelopes": "\(outcome.reindexed.count)"])
        }
        for id in outcome.unknown {
            logger.notice("receipt for an envelope we did not send this peer", metadata: ["peer": "\(peer)", "envelope": "\(id)"])
        }
        for position in outcome.distrusted {
            logger.warning("receipt names other bytes than we sent", metadata: ["peer": "\(peer)", "receipt": "\(envelopes[position].id)"])
        }
        var settled = outcome.alreadyAnswered
        guard !outcome.log.isEmpty else { return settled }
        do {
            _ = try await append(outcome.log.map { (.receipt, envelopes[$0].bytes, .envelope(envelopes[$0])) })
        } catch {
            // The receipts are lost with the write, so their envelopes would wait in flight
            // for answers that never come again: the link reconnects, which puts them back
            // in the queue, and the peer answers the resent copies with the same receipts.
            logger.error("cannot log receipts; reconnecting so that the envelopes are resent",
                         metadata: ["peer": "\(peer)", "count": "\(outcome.answers.count)", "error": "\(error)"])
            await peers[peer]?.reconnect()
            return settled
        }
        settleRefusalsByDigest(matched: matched)
        let answers = outcome.answers.map { answer in
            (id: answer.id, receipt: envelopes[answer.envelope].header.receipts.first { $0.envelopeID == answer.id || matched[$0.envelopeSHA256] == answer.id })
        }
        let refusals = answers.filter { $0.receipt?.outcome == .refused }.count
        Metrics.Counter(label: "iias_receipts_total").increment(by: answers.count)
        Metrics.Counter(label: "iias_delivered_total").increment(by: answers.count - refusals)
        if refusals > 0 { Metrics.Counter(label: "iias_refused_total").increment(by: refusals) }
        for (id, receipt) in answers {
            if let receipt, receipt.outcome == .refused {
                logger.warning("recipient refused", metadata: ["peer": "\(peer)", "envelope": "\(id)",
                                                              "reason": "\(receipt.reason?.rawValue ?? "?")", "detail": "\(receipt.detail ?? "")"])
            }
            settled.append(id)
            if let index = ledger.logIndex(ofOutgoing: id), ledger.isAnswered(id) {
                awaitingReceipts[index] = nil
            }
            if !subscribers.isEmpty, let updated = ledger.outgoing[id]?.delivery[peer] {
                emit(.delivery(id: id, recipient: updated))
            }
        }
        return settled
    }

    /// Our envelope on the wire to `peer`, not answered yet, whose bytes have `sha256`:
    /// what a refusal under the null id answers. At most a window of envelopes is in
    /// flight, and their digests are in memory, so no refusal costs more than that.
    func inFlightEnvelope(digest sha256: [UInt8], to peer: CenterID) -> UUID? {
        guard let link = peers[peer] else { return nil }
        return link.inFlightIDs().first { id in
            ledger.logIndex(ofOutgoing: id).flatMap(digest(ofEntry:)) == sha256
        }
    }

    /// Settles each refusal under the null id that the fold met (`Ledger.refusalsByDigest`)
    /// with our envelope of that digest: as such refusals are logged, with the envelope
    /// they were matched to in flight (`matched`), and at start-up, when nothing is in
    /// flight and every envelope still waiting for that center and logged before the
    /// refusal is a candidate (read once, only when the folded part of the log holds such
    /// a refusal). The same log gives the same match, so a restart agrees with what was
    /// shown live.
    func settleRefusalsByDigest(matched: [[UInt8]: UUID] = [:]) {
        let refusals = ledger.takeRefusalsByDigest()
        guard !refusals.isEmpty else { return }
        var waiting: [CenterID: [[UInt8]: UUID]] = [:]
        for refusal in refusals {
            let sha256 = refusal.receipt.envelopeSHA256
            var match = matched[sha256]
            if match == nil {
                if waiting[refusal.from] == nil {
                    waiting[refusal.from] = Dictionary(ledger.pending(for: refusal.from).compactMap { id in
                        ledger.logIndex(ofOutgoing: id).flatMap(digest(ofEntry:)).map { ($0, id) }
                    }, uniquingKeysWith: { first, _ in first })
                }
                match = waiting[refusal.from]?[sha256].flatMap { id in (ledger.logIndex(ofOutgoing: id) ?? .max) < refusal.entry ? id : nil }
            }
            guard let id = match, ledger.settle(id, with: refusal) else { continue }
            if let index = ledger.logIndex(ofOutgoing: id), ledger.isAnswered(id) { awaitingReceipts[index] = nil }
            logger.notice("a refusal of bytes the recipient could not parse, matched to our envelope by digest",
                          metadata: ["peer": "\(refusal.from)", "envelope": "\(id)", "detail": "\(refusal.receipt.detail ?? "")"])
        }
    }
}
