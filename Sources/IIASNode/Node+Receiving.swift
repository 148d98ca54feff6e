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

// Envelopes from peers: checked off the actor, duplicates answered as before, the new logged.
extension Node {
    // MARK: - Receiving

    /// Serves one inbound connection: envelopes in arrival order, in batches of what
    /// arrived together, each answered with a signed receipt or refusal once the outcome
    /// is durable.
    func serveInbound(_ channel: Channel, inbox: FrameInbox) async {
        let key = ObjectIdentifier(channel)
        inboundChannels[key] = channel
        var peer: CenterID?
        defer {
            inboundChannels[key] = nil
            if let peer { attachments.receiver.senderDisconnected(peer, token: key) }
        }
        var chunks: ChunkWriter?   // chunks are written beside the envelopes, not ahead of them
        while let items = await inbox.next() {
            var envelopes: [[UInt8]] = []
            var attachmentFrames: [(FrameType, [UInt8])] = []
            var frames = 0
            for item in items {
                switch item {
                case .established(let identity):
                    peer = CenterID(rawValue: identity.centerID)
                    // It is up: what we queued for it need not wait out our backoff.
                    if let peer { peers[peer]?.peerAppeared() }
                    if let peer { attachments.receiver.senderConnected(peer, token: key) { Self.write($0, on: channel) } }
                case .frame(.envelope(let bytes)):
                    envelopes.append(bytes)
                    frames += 1
                case .frame(.attachment(let type, let body)):
                    attachmentFrames.append((type, body))
                    frames += 1
                case .frame(.witnessRequest(let body)):
                    frames += 1
                    if let peer { channel.writeAndFlush(Frame.witnessResponse(await witnessRequestArrived(body, from: peer).bytes), promise: nil) }
                case .frame(.receiptProof(let body)):
                    frames += 1
                    if let peer, let ack = await receiptProofsArrived(body, from: peer) { channel.writeAndFlush(Frame.receiptProofAck(ack), promise: nil) }
                case .frame(.history(let type, let body)):
                    frames += 1
                    if let peer { await historyFrameArrived(type, body, from: peer) }
                case .frame(.error(let code, let reason)):
                    logger.notice("peer closed its connection with an error", metadata: ["peer": "\(peer?.rawValue ?? "?")", "code": "\(code)", "reason": "\(reason.prefix(200))"])
                    frames += 1
                case .frame:
                    frames += 1
                }
            }
            if let peer, !envelopes.isEmpty {
                guard let answers = await envelopesArrived(envelopes, from: peer) else {
                    try? await channel.writeAndFlush(Frame.error(code: Self.storageUnavailableCode,
                                                                 reason: "the recipient cannot store envelopes now; retry later")).get()
                    try? await channel.close()
                    return
                }
                // Refused attachments first: their sender reads the refusal before the receipt makes them due.
                for refusal in attachments.receiver.takeRefusals(for: peer) { channel.write(refusal, promise: nil) }
                for answer in answers { channel.write(Frame.receipt(answer), promise: nil) }
                channel.flush()
            }
            if let peer, !attachmentFrames.isEmpty {
                if chunks == nil { chunks = ChunkWriter(node: self, peer: peer, channel: channel) }
                await chunks?.write(attachmentFrames)
            }
            if frames > 0 { inbox.consumed(frames, on: channel.eventLoop) }
        }
    }

    /// Envelopes from `peer`, checked concurrently outside the actor, then logged (one
    /// fdatasync for all that are new) and answered in order.
    nonisolated func envelopesArrived(_ list: [[UInt8]], from peer: CenterID) async -> [[UInt8]]? {
        let skew = limits.clockSkewSeconds
        var verdicts = await concurrentMap(list) { [crypto] in Self.check($0, from: peer, crypto: crypto, skew: skew) }
        // Signed by a key we hold no certificate for: perhaps the sender rotated and its new
        // certificate reached our folder since we last read it. Look once, then judge again.
        if verdicts.contains(where: \.mayBeANewKey), await refreshTrustIfChanged() {
            let crypto = self.crypto
            for i in verdicts.indices where verdicts[i].mayBeANewKey { verdicts[i] = Self.check(list[i], from: peer, crypto: crypto, skew: skew) }
        }
        guard let answers = await record(verdicts, from: peer) else { return nil }
        return await crypto.sign(answers, to: peer)
    }

    /// An envelope of a peer's that we logged at `index` at `time`: what its delivery
    /// receipt says.
    struct Delivery: Sendable {
        var id: UUID
        var sha256: [UInt8]
        var index: UInt64
        var time: Date
        /// A version 2 notification: its sender's build reads receipt batches.
        var batchable: Bool
        /// A version 3 envelope: its sender's build reads receipts that name their signer.
        var namesSigner: Bool

        init(_ envelope: Envelope, index: UInt64, time: Date) {
            id = envelope.id
            sha256 = envelope.sha256
            self.index = index
            self.time = time
            batchable = envelope.header.kind == .notification && envelope.version >= 2
            namesSigner = envelope.version >= 3
        }
    }

    /// What an envelope is answered with, decided on the actor and signed off it.
    enum Answer: Sendable {
        /// The deterministic delivery receipt of one envelope.
        case receipt(Delivery)
        /// One deterministic receipt for several (see `NodeCrypto.sign(_:to:)`).
        case batch([Delivery])
        /// A signed refusal naming its reason.
        case refusal(UUID, [UInt8], Receipt.RefusalReason, String)
    }

    /// ERROR code sent before closing a peer's connection when our log refuses writes.
    public static let storageUnavailableCode: UInt16 = 5

    enum Verdict: Sendable {
        /// Refused; `resent` is the parsed envelope when it came from its own sender, so
        /// that a resend of bytes we logged earlier is answered with the receipt we signed
        /// then, whatever the checks say today (a recipient never signs two outcomes).
        /// `keyMayBeNew`: refused for a key — the signer's certificate, or our own
        /// decryption key — that a rotation may have put on disk since we last read it.
        case refuse(UUID, [UInt8], Receipt.RefusalReason, String, resent: Envelope?, keyMayBeNew: Bool = false)
        case accept(Envelope, InboxSummary?)

        var mayBeANewKey: Bool {
            if case .refuse(_, _, _, _, _, let keyMayBeNew) = self { return keyMayBeNew }
            return false
        }
    }

    /// Every check that needs no state: parse, sender = TLS peer, addressed to us, not
    /// created in the future beyond the skew bound, certificate chain + CRL + signature,
    /// and for notifications decryption and validation. Runs on the caller's thread, never
    /// on the actor. An old `created` is no reason to refuse: duplicates are recognised by
    /// (sender, id, SHA-256) against the log, not by a time window, and the certificate is
    /// judged now, at the time we log it (see Exchange.md, "Time and outages").
    nonisolated static func check(_ bytes: [UInt8], from peer: CenterID, crypto: NodeCrypto, skew: Double) -> Verdict {
        let sha256 = SHA256.hash(bytes)
        let envelope: Envelope
        do { envelope = try Envelope(parsing: bytes) } catch {
            return .refuse(Ledger.unparsedEnvelopeID, sha256, .invalid, "\(error)", resent: nil)
        }
        let header = envelope.header
        guard header.sender == peer else {
            return .refuse(header.id, sha256, .senderMismatch, "the envelope names sender \(header.sender); this connection is \(peer)", resent: nil)
        }
        func refuse(_ reason: Receipt.RefusalReason, _ detail: String, keyMayBeNew: Bool = false) -> Verdict {
            .refuse(header.id, sha256, reason, detail, resent: envelope, keyMayBeNew: keyMayBeNew)
        }
        guard header.recipients.contains(crypto.center) else {
            return refuse(.notARecipient, "\(crypto.center) is not among the recipients")
        }
        let ahead = header.created.timeIntervalSinceNow
        guard ahead <= skew else {
            return refuse(.clockSkew, "created \(Int(ahead)) s ahead of our clock; the bound is \(Int(skew)) s")
        }
        let verified: VerifiedEnvelope
        do { verified = try crypto.verifier.verify(envelope) } catch {
            switch error {
            case .badSignature: return refuse(.badSignature, "\(error)")
            case .noSignerCertificate: return refuse(.badSignature, "\(error)", keyMayBeNew: true)
            case .unknownSigningKey, .unknownSender: return refuse(.untrustedSender, "\(error)", keyMayBeNew: true)
            default: return refuse(.untrustedSender, "\(error)")
            }
        }
        switch header.kind {
        case .notification:
            do {
                let notification = try crypto.open(verified)
                return .accept(envelope, InboxSummary(notification, created: header.created))
            } catch {
                // Sealed to an encryption key of ours we have not loaded yet (we were rotated on disk).
                if case .wrongKey = error { return refuse(.invalid, error.redactedDescription, keyMayBeNew: true) }
                return refuse(.invalid, error.redactedDescription)
            }
        case .receipt:
            guard header.receipt?.outcome == .acknowledged else {
                return refuse(.invalid, "receipts travel in RECEIPT frames; only acknowledgements are envelopes")
            }
            return .accept(envelope, nil)
        }
    }

    /// Logs the accepted envelopes that are new (together) and returns, in order, each
    /// envelope's answer: its deterministic delivery receipt, or a signed refusal
    /// (decided by `InboundExchange.decide`). Nil when the log refused the write (e.g. a
    /// full disk): nothing is answered.
    func record(_ verdicts: [Verdict], from peer: CenterID) async -> [Answer?]? {
        let arrivals = verdicts.map { verdict in
            switch verdict {
            case .refuse(let id, let sha256, let reason, let detail, let resent, _):
                InboundExchange.Arrival(id: id, sha256: sha256, check: resent == nil ? .refusedOutright(reason, detail) : .refused(reason, detail))
            case .accept(let envelope, _):
                InboundExchange.Arrival(id: envelope.id, sha256: envelope.sha256, check: .accepted(acknowledgesOurs: acknowledgesOurs(envelope, to: peer)))
            }
        }
        let decisions = InboundExchange.decide(arrivals, from: peer) { id in
            ledger.incoming[peer, id].flatMap { known in digest(ofEntry: known.index).map { .init(index: known.index, time: known.received, sha256: $0) } }
        }
        var answers = [Answer?](repeating: nil, count: verdicts.count)
        var fresh: [(position: Int, envelope: Envelope, summary: InboxSummary?)] = []
        for (position, (verdict, decision)) in zip(verdicts, decisions).enumerated() {
            switch (decision, verdict) {
            case (.log, .accept(let envelope, let summary)):
                fresh.append((position, envelope, summary))
            case (.answerAsLogged(let known), .accept(let envelope, _)), (.answerAsLogged(let known), .refuse(_, _, _, _, let envelope?, _)):
                Metrics.Counter(label: "iias_duplicates_total").increment()
                answers[position] = .receipt(Delivery(envelope, index: known.index, time: known.time))
            case (.refuse(let reason, let detail), _):
                Metrics.Counter(label: "iias_rejects_total", dimensions: [("reason", reason.rawValue)]).increment()
                logger.notice("refused an envelope", metadata: ["peer": "\(peer)", "envelope": "\(arrivals[position].id)", "reason": "\(reason.rawValue)", "detail": "\(detail)"])
                answers[position] = .refusal(arrivals[position].id, arrivals[position].sha256, reason, detail)
            default:
                break   // `.sameAs`: answered below, with the receipt of the copy logged
            }
        }
        if !fresh.isEmpty {
            do {
                let placed = try await append(fresh.map { ($0.envelope.header.kind == .notification ? .received : .receipt, $0.envelope.bytes, .envelope($0.envelope)) })
                for (item, (index, time)) in zip(fresh, placed) {
                    answers[item.position] = .receipt(Delivery(item.envelope, index: index, time: time))
                    if let summary = item.summary {
                        attachments.receiver.expect(summary.attachments, envelope: item.envelope.id, from: peer)
                        remember(summary, for: index)
                        deskTakes(summary, at: index)
                    }
                    announce(item.envelope, from: peer, at: index)
                    if item.summary != nil { await noteForCoRecipients(item.envelope) }
                    if item.envelope.header.kind == .notification { oweReceiptProof(item.envelope.id, sha256: arrivals[item.position].sha256, from: peer, at: index) }
                }
            } catch {
                // Not a refusal (that would be final): no answer, and the connection is
                // closed, so the sender keeps the envelopes and resends after backing off.
                logger.error("cannot log received envelopes; asking the sender to retry", metadata: ["count": "\(fresh.count)", "error": "\(error)"])
                return nil
            }
        }
        if !fresh.isEmpty { advanceDesk() }
        for (position, decision) in decisions.enumerated() {
            guard case .sameAs(let first) = decision else { continue }
            Metrics.Counter(label: "iias_duplicates_total").increment()
            answers[position] = answers[first]
        }
        return answers
    }

    /// For an acknowledgement: whether it names a notification of ours to `peer`, by id
    /// and digest (nil for anything else).
    private func acknowledgesOurs(_ envelope: Envelope, to peer: CenterID) -> Bool? {
        guard envelope.header.kind == .receipt else { return nil }
        guard let answered = envelope.header.receipt?.envelopeID, let index = ledger.logIndex(ofOutgoing: answered),
              ledger.deliveryState(of: answered, for: peer) != nil else { return false }
        return digest(ofEntry: index) == envelope.header.receipt?.envelopeSHA256
    }

    /// Tells subscribers and the log what a newly logged envelope from `peer` is; an
    /// acknowledgement answers our notification, so its link stops sending it.
    private func announce(_ envelope: Envelope, from peer: CenterID, at index: UInt64) {
        let header = envelope.header
        if header.kind == .notification {
            Metrics.Counter(label: "iias_received_total").increment()
            if !subscribers.isEmpty, let incoming = ledger.incoming[peer, header.id], let inboxItem = inboxItem(incoming) {
                emit(.received(inboxItem))
            }
            logger.info("received", metadata: ["envelope": "\(header.id)", "from": "\(peer)", "index": "\(index)"])
        } else if let answered = header.receipt?.envelopeID, let delivery = ledger.outgoing[answered]?.delivery[peer] {
            peers[peer]?.settle([answered])
            emit(.delivery(id: answered, recipient: delivery))
        }
    }
}
