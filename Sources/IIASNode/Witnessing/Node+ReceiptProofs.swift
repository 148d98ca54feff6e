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
        if !receiptProofs.loaded { receiptProofFiles.load(into: &receiptProofs) }
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
              let quorum = receiptProofs.quorum, let note = try? SignedNote(parsing: quorum.note),
              let size = try? note.checkpoint().treeSize else { return }
        // Held while the batch is built off the actor, so that no second call builds one too.
        receiptProofs.inFlight[peer] = Self.building
        var from = receiptProofs.sentThrough[peer.rawValue] ?? 0
        while from < size {
            let batch: ReceiptProofBatch
            do {
                let log = self.log, start = from
                batch = try await Task.detached { try Self.receiptProofBatch(in: log, for: peer, from: start, treeSize: size, note: note) }.value
            } catch {
                logger.error("cannot build receipt proofs", metadata: ["peer": "\(peer)", "from": "\(from)", "error": "\(error)"])
                break
            }
            if batch.items.isEmpty {
                // Nothing of this sender's in the range: move on without asking it anything.
                from = batch.through
                receiptProofs.sentThrough[peer.rawValue] = from
                try? receiptProofFiles.save(sentThrough: receiptProofs.sentThrough)
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

    /// Our entries in `from..<treeSize` (at most a scan limit of them, and a frame's worth
    /// of proofs) that are envelopes received from `peer`, each with its bundle.
    private static func receiptProofBatch(in log: LogStore, for peer: CenterID, from: UInt64, treeSize: UInt64, note: SignedNote) throws -> ReceiptProofBatch {
        let tree = try log.merkleTree()
        var items: [ReceiptProofBatch.Item] = []
        var bytes = 0
        var index = from
        let end = min(treeSize, from + ReceiptProofState.scanLimit)
        while index < end, items.count < ReceiptProofBatch.maximumItems, bytes < ReceiptProofBatch.targetBytes {
            let entry = try log.entry(at: index)
            if entry.type == .received, let envelope = try? Envelope(parsing: entry.payload), envelope.header.sender == peer {
                let bundle = TlogProof(extra: EntryLeaf(entry: entry).extra, index: index,
                                       proof: try tree.inclusionProof(leafIndex: index, treeSize: treeSize), checkpoint: note)
                let item = ReceiptProofBatch.Item(envelopeID: envelope.id, sha256: SHA256.hash(entry.payload), bundle: Array(bundle.text.utf8))
                items.append(item)
                bytes += item.bundle.count + 52
            }
            index += 1
        }
        return ReceiptProofBatch(through: index, items: items)
    }

    /// `peer` kept our proofs up to the `through` it names: the next batch goes.
    func receiptProofsAcknowledged(_ body: [UInt8], from peer: CenterID) async {
        guard let through = ReceiptProofBatch.acknowledged(body), receiptProofs.inFlight[peer] == through else {
            logger.notice("a receipt proof acknowledgement that answers nothing sent", metadata: ["peer": "\(peer)"])
            return
        }
        receiptProofs.inFlight[peer] = nil
        receiptProofs.sentThrough[peer.rawValue] = through
        do {
            try receiptProofFiles.save(sentThrough: receiptProofs.sentThrough)
        } catch {
            logger.error("cannot keep how far senders hold our receipt proofs", metadata: ["error": "\(error)"])
        }
        await sendReceiptProofs(to: peer)
    }

    /// A link went down: its batch on the wire is lost and goes again on the next connection.
    func receiptProofLinkChanged(_ peer: CenterID, connected: Bool) async {
        if connected { await sendReceiptProofs(to: peer) } else { receiptProofs.inFlight[peer] = nil }
    }

    // MARK: - As a sender

    /// A RECEIPT_PROOF from `peer`: each bundle that proves our envelope is in its log,
    /// under a checkpoint its witnesses cosigned to our quorum, is kept; one that does not
    /// is refused and logged. The checks run on every core and the files are written off
    /// the actor, so the exchange goes on meanwhile. Returns the acknowledgement (nil: the
    /// body is not a batch, or the proofs could not be kept and should come again).
    func receiptProofsArrived(_ body: [UInt8], from peer: CenterID) async -> [UInt8]? {
        guard let batch = ReceiptProofBatch(bytes: body) else {
            logger.warning("a RECEIPT_PROOF body that does not parse", metadata: ["peer": "\(peer)", "bytes": "\(body.count)"])
            return nil
        }
        let policy = witnessPolicy(forLogOf: peer)
        let options = Cosignature.VerifyOptions(maximumFutureSeconds: UInt64(limits.clockSkewSeconds))
        let sent = batch.items.map { sentEnvelope($0.envelopeID, to: peer) }
        let parsed = await concurrentMap(batch.items) { item in
            Result { () throws -> (TlogProof, String) in
                guard let text = String(validating: item.bundle, as: UTF8.self) else { throw LogProofError.malformed("the bundle is not UTF-8") }
                let bundle = try TlogProof(parsing: text)
                return (bundle, bundle.checkpoint.text)
            }
        }
        // The bundles of a batch share their checkpoint: its signatures are checked once.
        let notes = Dictionary(parsed.compactMap { try? $0.get() }.map { ($0.1, $0.0.checkpoint) }, uniquingKeysWith: { first, _ in first })
        let heads = Dictionary(await concurrentMap(Array(notes)) { text, note in
            (text, Result { () throws -> Checkpoint in try policy.verify(note, options: options).0 })
        }, uniquingKeysWith: { first, _ in first })
        let checked = await concurrentMap(Array(zip(batch.items.indices, batch.items))) { i, item in
            Result { () throws -> ReceiptProofBatch.Item in
                let (bundle, note) = try parsed[i].get()
                return try Self.check(item, sent: sent[i], bundle: bundle, head: heads[note])
            }
        }
        var verified: [(bytes: [UInt8], center: CenterID, id: UUID)] = []
        for (item, result) in zip(batch.items, checked) {
            switch result {
            case .success: verified.append((item.bundle, peer, item.envelopeID))
            case .failure(let error):
                Metrics.Counter(label: "iias_receipt_proofs_total", dimensions: [("result", "refused")]).increment()
                logger.warning("a receipt proof does not verify; not kept", metadata: ["peer": "\(peer)", "envelope": "\(item.envelopeID)", "error": "\(error)"])
            }
        }
        let files = receiptProofFiles, kept = verified
        do {
            let written = try await Task.detached { try files.keep(kept) }.value
            Metrics.Counter(label: "iias_receipt_proofs_total", dimensions: [("result", "kept")]).increment(by: written.filter { $0 }.count)
            Metrics.Counter(label: "iias_receipt_proofs_total", dimensions: [("result", "again")]).increment(by: written.filter { !$0 }.count)
        } catch {
            logger.error("cannot keep receipt proofs; they come again on the next connection", metadata: ["peer": "\(peer)", "error": "\(error)"])
            return nil
        }
        return ReceiptProofBatch.acknowledgement(batch.through)
    }

    /// Our envelope `id` to `peer` as logged, and the recipient's log index its receipt named.
    private func sentEnvelope(_ id: UUID, to peer: CenterID) -> (bytes: [UInt8], recipientIndex: UInt64?)? {
        guard let ours = ledger.logIndex(ofOutgoing: id), let delivery = ledger.outgoing[id]?.delivery[peer],
              let bytes = try? log.entry(at: ours).payload else { return nil }
        return (bytes, delivery.recipientLogIndex)
    }

    /// Checks one bundle against what we sent and what the recipient's receipt said.
    private static func check(_ item: ReceiptProofBatch.Item, sent: (bytes: [UInt8], recipientIndex: UInt64?)?,
                              bundle: TlogProof, head: Result<Checkpoint, any Error>?) throws -> ReceiptProofBatch.Item {
        guard let sent else { throw LogProofError.invalid("no envelope of ours to this peer has this id") }
        guard SHA256.hash(sent.bytes) == item.sha256 else { throw LogProofError.invalid("the SHA-256 named is not that of the envelope we sent") }
        if let index = sent.recipientIndex, index != bundle.index {
            throw LogProofError.invalid("the receipt named the recipient's entry \(index), the proof entry \(bundle.index)")
        }
        let leaf = try bundle.entryLeaf(payload: sent.bytes, expectedType: .received)
        guard let head else { throw LogProofError.malformed("the checkpoint was not read") }
        try bundle.verifyInclusion(leafHash: leaf.leafHash, in: try head.get())
        return item
    }

    /// The policy a proof from `center`'s log is judged by: its log keys (trusted signing
    /// certificates, under its origin), the witness keys of every other center (ours too),
    /// each center one vote however many keys it had, and the configured quorum.
    func witnessPolicy(forLogOf center: CenterID) -> TlogPolicy {
        let crypto = self.crypto
        let origin = Checkpoint.origin(center: center.rawValue)
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
        guard let bundle = receiptProofFiles.read(from: recipient, envelope: id) else {
            throw .unavailable("no receipt proof from \(recipient) for \(id.uuidString.lowercased()) yet: it comes once \(recipient)'s checkpoint covering it has a quorum of cosignatures")
        }
        return bundle
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
