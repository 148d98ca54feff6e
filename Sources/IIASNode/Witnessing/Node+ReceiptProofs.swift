import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import Metrics

// Receipts that prove delivery. As a recipient: once a checkpoint of ours covering a
// sender's envelopes has a quorum of cosignatures, the sender gets a C2SP tlog-proof bundle
// per envelope (RECEIPT_PROOF), until it acknowledges them. As a sender: each bundle is
// checked against the recipient's log key and its peers' witness keys and kept.
extension Node {
    var receiptProofFiles: ReceiptProofFiles { ReceiptProofFiles(dataDirectory: configuration.dataDirectory) }

    private func loadReceiptProofs() {
        guard !receiptProofs.loaded else { return }
        receiptProofFiles.load(into: &receiptProofs)
        if receiptProofs.trackingFrom == nil { receiptProofs.trackingFrom = log.count }
    }

    /// A notification from `peer` was logged at `index`: its proof will be owed, and what
    /// it needs is kept now so that the batch need not read the log back.
    func oweReceiptProof(_ id: UUID, sha256: [UInt8], from peer: CenterID, at index: UInt64) {
        guard configuration.witness.enabled, let position = ledger.incomingPosition(id, from: peer) else { return }
        let time = ledger.incomingRecords[position].receivedMilliseconds
        receiptProofs.owe(.init(index: index, timeMilliseconds: time, envelopeID: id, sha256: sha256), by: peer)
    }

    /// The newest checkpoint of ours that met the witness quorum, and when (nil: none yet).
    func quorumCheckpoint() -> (checkpoint: Checkpoint, reachedAt: Date)? {
        loadReceiptProofs()
        guard let quorum = receiptProofs.quorum, let checkpoint = receiptProofs.quorumCheckpoint else { return nil }
        return (checkpoint, quorum.reachedAt)
    }

    // MARK: - As a recipient

    /// A peer's verified cosignature of our checkpoint was kept (`Node+Cosigning`): when it
    /// completes the quorum of a checkpoint larger than the last, that checkpoint is the
    /// one our proofs end in from now on, and every sender gets what it is owed.
    func cosignatureKept(_ note: SignedNote, by peer: CenterID) async {
        loadReceiptProofs()
        guard let complete = receiptProofs.add(note, by: peer, threshold: configuration.witness.quorum),
              let size = try? complete.checkpoint().treeSize, size > (receiptProofs.quorumCheckpoint?.treeSize ?? 0) else { return }
        let quorum = ReceiptProofState.Quorum(note: complete.text, reachedAt: Date())
        do {
            try receiptProofFiles.save(quorum)
        } catch {
            logger.error("cannot keep the quorum-cosigned checkpoint", metadata: ["treeSize": "\(size)", "error": "\(error)"])
            return
        }
        receiptProofs.quorum = quorum
        Metrics.Gauge(label: "iias_witness_quorum_tree_size").record(Double(size))
        logger.info("checkpoint cosigned by a quorum of witnesses", metadata: ["treeSize": "\(size)", "quorum": "\(configuration.witness.quorum)"])
        for sender in peers.keys { await sendReceiptProofs(to: sender) }
    }

    /// Sends `peer` the next batch of proofs it is owed, unless one is on the wire: the
    /// entries it sent us between what it acknowledged and our quorum checkpoint's size.
    func sendReceiptProofs(to peer: CenterID) async {
        loadReceiptProofs()
        guard !stopping, receiptProofs.inFlight[peer] == nil, let link = peers[peer],
              let note = receiptProofs.quorumNote, let size = receiptProofs.quorumCheckpoint?.treeSize else { return }
        // Held while the batch is built off the actor, so that no second call builds one too.
        receiptProofs.inFlight[peer] = Self.building
        var from = receiptProofs.sentThrough[peer.rawValue] ?? 0
        while from < size {
            let batch: ReceiptProofBatch
            do {
                let start = from
                let owed = (receiptProofs.owed[peer] ?? []).filter { $0.index >= start && $0.index < size }
                let source = ReceiptProofSource(log: log, peer: peer, treeSize: size, note: note, owed: owed, tracked: receiptProofs.tracked(peer))
                batch = try await Task.detached { try source.batch(from: start) }.value
            } catch {
                logger.error("cannot build receipt proofs", metadata: ["peer": "\(peer)", "from": "\(from)", "error": "\(error)"])
                break
            }
            if batch.items.isEmpty {
                // Nothing of this sender's in the range: move on without asking it anything.
                from = batch.through
                receiptProofs.sentThrough[peer.rawValue] = from
                receiptProofs.sentThroughUnsaved = true
                saveSentThrough()
                continue
            }
            guard receiptProofs.inFlight[peer] == Self.building else { return } // the link went down meanwhile
            receiptProofs.inFlight[peer] = batch.through
            if !(await link.sendReceiptProofs(batch.bytes)) { receiptProofs.inFlight[peer] = nil }
            return
        }
        if receiptProofs.inFlight[peer] == Self.building { receiptProofs.inFlight[peer] = nil }
    }

    /// `inFlight` while a batch is being built: no acknowledgement names it.
    private static let building = UInt64.max

    /// `peer` kept our proofs up to the `through` it names: the next batch goes.
    func receiptProofsAcknowledged(_ body: [UInt8], from peer: CenterID) async {
        guard let through = ReceiptProofBatch.acknowledged(body), receiptProofs.inFlight[peer] == through else {
            logger.notice("a receipt proof acknowledgement that answers nothing sent", metadata: ["peer": "\(peer)"])
            return
        }
        receiptProofs.inFlight[peer] = nil
        receiptProofs.sentThrough[peer.rawValue] = through
        receiptProofs.settled(peer, through: through)
        receiptProofs.sentThroughUnsaved = true
        saveSentThrough()
        await sendReceiptProofs(to: peer)
    }

    /// Writes how far senders hold our proofs when it changed and the last write is a
    /// second old (`force`: now, as at stop). Never ahead of what they acknowledged, so a
    /// restart may send proofs again but never skips one.
    func saveSentThrough(force: Bool = false) {
        guard receiptProofs.sentThroughUnsaved else { return }
        let now = ContinuousClock.now
        if !force, let last = receiptProofs.sentThroughSavedAt, now - last < .seconds(1) { return }
        do {
            try receiptProofFiles.save(sentThrough: receiptProofs.sentThrough)
            receiptProofs.sentThroughUnsaved = false
            receiptProofs.sentThroughSavedAt = now
        } catch {
            logger.error("cannot keep how far senders hold our receipt proofs", metadata: ["error": "\(error)"])
        }
    }

    /// A link went down: its batch on the wire is lost and goes again on the next connection.
    func receiptProofLinkChanged(_ peer: CenterID, connected: Bool) async {
        if connected { await sendReceiptProofs(to: peer) } else { receiptProofs.inFlight[peer] = nil }
    }

    // MARK: - As a sender

    /// A RECEIPT_PROOF from `peer`: each proof that our envelope is in its log, under a
    /// checkpoint its witnesses cosigned to our quorum, is kept; one that does not is
    /// refused and logged. The checkpoint's signatures are checked once for the frame, each
    /// entry with a few SHA-256, and the frame is kept with one write and one fsync, all
    /// off the actor. Returns the acknowledgement (nil: the body is not a batch, or the
    /// proofs could not be kept and should come again).
    func receiptProofsArrived(_ body: [UInt8], from peer: CenterID) async -> [UInt8]? {
        guard let batch = ReceiptProofBatch(bytes: body) else {
            logger.warning("a RECEIPT_PROOF body that does not parse", metadata: ["peer": "\(peer)", "bytes": "\(body.count)"])
            return nil
        }
        let file: ProofsFile
        do {
            file = try receiptProofs.files[peer] ?? receiptProofFiles.open(peer)
            receiptProofs.files[peer] = file
        } catch {
            logger.error("cannot open the receipt proofs kept from a peer", metadata: ["peer": "\(peer)", "error": "\(error)"])
            return nil
        }
        // A restored peer's log signs under its epoch's origin: the same keys, that name.
        let origin = (try? SignedNote(parsing: String(decoding: batch.checkpoint, as: UTF8.self)).checkpoint().origin)
            .flatMap { Checkpoint.logOrigin($0)?.center == peer.rawValue ? $0 : nil }
        let intake = ReceiptProofIntake(policy: witnessPolicy(forLogOf: peer, origin: origin), skewSeconds: UInt64(limits.clockSkewSeconds), log: log,
                                        sent: batch.items.map { sentEnvelope($0.envelopeID, to: peer) }, files: receiptProofFiles, peer: peer)
        let outcome: ReceiptProofIntake.Outcome
        do {
            outcome = try await Task.detached { try intake.keep(batch, in: file) }.value
        } catch {
            logger.error("cannot keep receipt proofs; they come again on the next connection", metadata: ["peer": "\(peer)", "error": "\(error)"])
            return nil
        }
        for (id, error) in outcome.refused {
            logger.warning("a receipt proof does not verify; not kept", metadata: ["peer": "\(peer)", "envelope": "\(id)", "error": "\(error)"])
        }
        Metrics.Counter(label: "iias_receipt_proofs_total", dimensions: [("result", "refused")]).increment(by: outcome.refused.count)
        Metrics.Counter(label: "iias_receipt_proofs_total", dimensions: [("result", "kept")]).increment(by: outcome.kept)
        Metrics.Counter(label: "iias_receipt_proofs_total", dimensions: [("result", "again")]).increment(by: outcome.again)
        return ReceiptProofBatch.acknowledgement(batch.through)
    }

    /// Where our envelope `id` to `peer` is logged, and the recipient's log index its receipt named.
    private func sentEnvelope(_ id: UUID, to peer: CenterID) -> ReceiptProofIntake.Sent? {
        guard let ours = ledger.logIndex(ofOutgoing: id), let delivery = ledger.outgoing[id]?.delivery[peer] else { return nil }
        return .init(index: ours, recipientIndex: delivery.recipientLogIndex)
    }

    /// The policy a proof from `center`'s log is judged by: its log keys (trusted signing
    /// certificates, under `origin`, one of that center's epochs; its first by default), the
    /// witness keys of every other center (ours too), each center one vote however many keys
    /// it had, and the configured quorum.
    func witnessPolicy(forLogOf center: CenterID, origin: String? = nil) -> TlogPolicy {
        let crypto = self.crypto
        let origin = origin ?? Checkpoint.origin(center: center.rawValue)
        func trusted(_ of: CenterID, _ purpose: KeyPurpose) -> [SigningPublicKey] {
            crypto.certificates.certificates(of: of, for: purpose).compactMap { certificate in
                guard (try? crypto.trust.verify(certificate, for: purpose, of: of)) != nil else { return nil }
                return try? certificate.signingPublicKey()
            }
        }
        let logs = trusted(center, .signing).map { TlogPolicy.VerifierKey(name: origin, type: TlogPolicy.VerifierKey.noteSignature, publicKey: $0) }
        var witnesses: [(center: String, keys: [TlogPolicy.VerifierKey])] = []
        for other in Set(crypto.certificates.centers + [self.center]).sorted(by: { $0.rawValue < $1.rawValue }) where other != center {
            var keys = trusted(other, .witness)
            if other == self.center, let own = crypto.keys.witnessKey?.publicKey, !keys.contains(own) { keys.append(own) }
            let name = Cosignature.name(center: other.rawValue)
            if !keys.isEmpty { witnesses.append((other.rawValue, keys.map { TlogPolicy.VerifierKey(name: name, type: TlogPolicy.VerifierKey.cosignatureV1, publicKey: $0) })) }
        }
        return TlogPolicy(logs: logs, witnessGroups: witnesses, threshold: configuration.witness.quorum)
    }
}

// The operators' and auditors' view of the proofs kept.
extension Node {
    public func receiptProof(of id: UUID, from recipient: CenterID, by actor: LocalUser) async throws(NodeError) -> [UInt8] {
        guard ledger.outgoing[id]?.delivery[recipient] != nil else { throw .notFound(id) }
        try await record(Consultation(view: .outboxItem, actor: actor, query: "proof=\(recipient.rawValue)",
                                      shown: [.init(sender: configuration.center, id: id)], asOf: ledger.folded))
        guard let bundle = keptReceiptProof(of: id, from: recipient) else {
            throw .unavailable("no receipt proof from \(recipient) for \(id.uuidString.lowercased()) yet: it comes once \(recipient)'s checkpoint covering it has a quorum of cosignatures")
        }
        return bundle
    }

    /// The C2SP tlog-proof bundle `recipient` sent for our envelope `id`, assembled from its
    /// proofs file (or, kept by a node from before that file, its own file).
    private func keptReceiptProof(of id: UUID, from recipient: CenterID) -> [UInt8]? {
        do {
            let file = try receiptProofs.files[recipient] ?? receiptProofFiles.open(recipient)
            receiptProofs.files[recipient] = file
            if let kept = try file.read(id), let text = String(validating: kept.checkpoint, as: UTF8.self) {
                let item = ReceiptProofBatch.Item(envelopeID: id, sha256: kept.proof.sha256, extra: kept.proof.extra, proof: kept.proof.proof)
                return Array(item.bundle(checkpoint: try SignedNote(parsing: text)).text.utf8)
            }
        } catch {
            logger.error("cannot read the receipt proofs kept from a peer", metadata: ["peer": "\(recipient)", "error": "\(error)"])
        }
        return receiptProofFiles.legacyBundle(from: recipient, envelope: id)
    }
}

// How far the log is witnessed, for `iias status` and /metrics.
extension Node {
    /// The newest quorum-cosigned checkpoint and the log's lag behind it; records the
    /// lag gauges as it goes.
    func witnessedStatus(now: Date = Date()) -> WitnessedStatus {
        let quorum = quorumCheckpoint()
        let covered = quorum?.checkpoint.treeSize ?? 0
        let count = log.count
        let oldestWaiting = covered < count ? (try? log.entry(at: covered).time) : nil
        let status = WitnessedStatus(quorum: configuration.witness.quorum, enabled: configuration.witness.enabled,
                                     treeSize: quorum?.checkpoint.treeSize, reachedAt: quorum?.reachedAt,
                                     lagEntries: count - min(covered, count), lagSeconds: oldestWaiting.map { max(0, now.timeIntervalSince($0)) } ?? 0)
        Metrics.Gauge(label: "iias_witness_lag_entries").record(Double(status.lagEntries))
        Metrics.Gauge(label: "iias_witness_lag_seconds").record(status.lagSeconds)
        if let reachedAt = status.reachedAt { Metrics.Gauge(label: "iias_witness_quorum_age_seconds").record(now.timeIntervalSince(reachedAt)) }
        return status
    }
}
