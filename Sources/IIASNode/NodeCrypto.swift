import Foundation
import IIASAPI
import IIASCrypto
import IIASModel
import IIASTransport
import Synchronization

/// The node's keys and the trust it places in others, replaced as a whole when SIGHUP
/// reloads the CRL. Everything here is immutable and thread-safe, so envelope crypto runs
/// on whatever thread calls it, never on an event loop and never inside the node's actor.
final class NodeCrypto: Sendable {
    let keys: CenterKeys
    let trust: TrustAnchor
    let certificates: CertificateDirectory
    let verifier: EnvelopeVerifier
    let tls: OpenSSLContext
    /// The ephemeral key our notifications' content keys are wrapped under, for a minute
    /// at a time (envelope version 2): two X25519 operations a recipient a minute instead
    /// of a sealed box per envelope. A reload starts a new epoch.
    let wrappingEpoch = WrappingEpoch()
    /// How submissions carry their content keys: `envelopeVersion` of the configuration.
    let keyTransport: Envelope.KeyTransport
    /// Whether submissions name their signing key (`envelopeVersion` 3).
    let namesSigner: Bool
    /// What the outbox summaries in our log are encrypted under (`OperatorAction`).
    let outboxSummaryKey: SelfSealingKey
    /// What the saved desk index is sealed under (`DeskIndex`); after a rotation the old
    /// copy no longer opens and is read again from the log.
    let deskIndexKey: SelfSealingKey
    /// Our earlier X25519 keys (`PreviousKeys`), newest first, each with its summary key.
    let previousEncryptionKeys: [(key: EncryptionPrivateKey, summaries: SelfSealingKey)]
    /// Our TLS certificate and the loaded CRL's dates, for the expiry report (`ExpiryReport`).
    let tlsCertificate: Certificate?
    let crlDates: CRLDates?
    /// Recipients' encryption keys with the time their certificate check (chain, CRL,
    /// purpose, center) stops counting: a minute, or the certificate's expiry if sooner.
    /// A submission needs them, and OpenSSL's chain walk costs more than the seal itself.
    private let encryptionKeyCache = Mutex<[CenterID: (key: EncryptionPublicKey, until: Date)]>([:])
    static let encryptionKeyLifetime: TimeInterval = 60

    init(configuration: NodeConfiguration) throws(NodeConfiguration.Problem) {
        do { trust = try TrustAnchor(caFile: configuration.caFile, crlFile: configuration.crlFile) } catch {
            throw .init(key: configuration.crlFile == nil ? "ca" : "crl", message: "cannot load the CA or CRL: \(error)")
        }
        // The passphrase of encrypted key files lives only for this initializer.
        var passphrase = try configuration.keyPassphrase?.read()
        defer { if passphrase != nil { wipeSecret(&passphrase!) } }
        do { keys = try CenterKeys(directory: configuration.keyDirectory, passphrase: passphrase) } catch {
            throw .init(key: "keys", message: "\(error)")
        }
        guard keys.center == configuration.center else {
            throw .init(key: "keys", message: "the keys in \(configuration.keyDirectory) belong to \(keys.center), not to center \(configuration.center)")
        }
        do { try keys.verify(with: trust) } catch {
            throw .init(key: "keys", message: "our own certificates do not verify against the CA and CRL: \(error)")
        }
        do { certificates = try CertificateDirectory(configuration.certificateDirectory) } catch {
            throw .init(key: "certificates", message: "\(error)")
        }
        for peer in configuration.peers where certificates.certificate(of: peer.center, for: .encryption) == nil
            || certificates.certificate(of: peer.center, for: .signing) == nil {
            throw .init(key: "certificates", message: "no signing and encryption certificates of peer \(peer.center) in \(configuration.certificateDirectory)")
        }
        verifier = EnvelopeVerifier(trust: trust, certificates: certificates)
        outboxSummaryKey = keys.encryptionKey.selfSealingKey(for: .outboxSummary)
        deskIndexKey = keys.encryptionKey.selfSealingKey(for: .deskIndex)
        do {
            previousEncryptionKeys = try PreviousKeys.encryptionKeys(in: configuration.keyDirectory, passphrase: passphrase)
                .map { ($0, $0.selfSealingKey(for: .outboxSummary)) }
        } catch {
            throw .init(key: "keys", message: "cannot load our earlier encryption keys: \(error)")
        }
        keyTransport = configuration.envelopeVersion == 1 ? .sealedBoxes : .wrapped(wrappingEpoch)
        namesSigner = configuration.envelopeVersion >= 3
        let folder = configuration.keyDirectory as NSString
        do {
            tls = try OpenSSLContext(certificateFile: folder.appendingPathComponent("tls.crt"),
                                     privateKeyFile: folder.appendingPathComponent("tls.key"),
                                     caFile: configuration.caFile, crlFile: configuration.crlFile,
                                     privateKeyPassphrase: passphrase)
        } catch {
            throw .init(key: "keys", message: "cannot load our TLS key and certificate: \(error)")
        }
        tlsCertificate = try? Certificate(pemFile: folder.appendingPathComponent("tls.crt"))
        crlDates = trust.revocationList.map { CRLDates(lastUpdate: $0.thisUpdate, nextUpdate: $0.nextUpdate) }
    }

    var center: CenterID { keys.center }

    /// Decrypts a verified notification addressed to us with our current X25519 key, or,
    /// when it was sealed to an earlier encryption certificate of ours, with that key.
    func open(_ verified: VerifiedEnvelope) throws(EnvelopeError) -> FormalNotification {
        do { return try verified.open(as: center, with: keys.encryptionKey) } catch {
            guard case .wrongKey = error, !previousEncryptionKeys.isEmpty else { throw error }
            for previous in previousEncryptionKeys {
                if let notification = try? verified.open(as: center, with: previous.key) { return notification }
            }
            throw error
        }
    }

    /// The listing fields of a notification we sent, under whichever of our keys sealed them.
    func outboxSummary(_ action: OperatorAction) -> OutboxSummary? {
        if let summary = action.summary(key: outboxSummaryKey, legacyKey: keys.encryptionKey) { return summary }
        for previous in previousEncryptionKeys {
            if let summary = action.summary(key: previous.summaries, legacyKey: previous.key) { return summary }
        }
        return nil
    }

    /// The recipients' encryption keys, each certificate verified within the last minute.
    func encryptionKeys(for recipients: [CenterID]) throws(CryptoError) -> [CenterID: EncryptionPublicKey] {
        let now = Date()
        var found: [CenterID: EncryptionPublicKey] = [:]
        var missing: [CenterID] = []
        encryptionKeyCache.withLock { cache in
            for recipient in recipients {
                if let cached = cache[recipient], cached.until > now { found[recipient] = cached.key } else { missing.append(recipient) }
            }
        }
        guard !missing.isEmpty else { return found }
        let fresh = try certificates.encryptionKeys(for: missing, trust: trust, at: now)
        encryptionKeyCache.withLock { cache in
            for (recipient, key) in fresh {
                let expiry = certificates.certificate(of: recipient, for: .encryption)?.notAfter ?? now
                cache[recipient] = (key, min(now.addingTimeInterval(Self.encryptionKeyLifetime), expiry))
                found[recipient] = key
            }
        }
        return found
    }

    /// The receipt answering an envelope we logged at `index` at `time`: its id and time
    /// derive from the envelope and the log entry, and Ed25519 is deterministic, so the
    /// same receipt is produced again for a duplicate, even after a restart, without
    /// logging receipts we sign.
    func deliveryReceipt(for delivery: Node.Delivery, sender: CenterID) -> [UInt8] {
        Envelope.receipt(answering: delivery.id, sha256: delivery.sha256, to: sender, from: center, signer: keys.signingKey,
                         outcome: .delivered, logIndex: delivery.index, id: Self.receiptID("IIAS-receipt-id\0", center, [delivery.sha256]),
                         created: delivery.time, namesSigner: delivery.namesSigner).bytes
    }

    /// One signed batch of delivery receipts (2 to `Receipt.maximumBatch`), as
    /// deterministic as a single receipt: its id derives from every digest it names, its
    /// time is the latest of their log times. A duplicate later gets a single receipt
    /// naming the same log index.
    func deliveryReceipts(_ items: [Node.Delivery], sender: CenterID) -> [UInt8] {
        let receipts = items.map { Receipt(envelopeID: $0.id, envelopeSHA256: $0.sha256, outcome: .delivered, logIndex: $0.index) }
        return Envelope.receiptBatch(receipts, to: sender, from: center, signer: keys.signingKey,
                                     id: Self.receiptID("IIAS-receipt-batch-id\0", center, items.map(\.sha256)),
                                     created: items.map(\.time).max()!, namesSigner: items.allSatisfy(\.namesSigner)).bytes
    }

    /// A receipt id from a domain, our center and the digests it answers (RFC 9562 version 8).
    private static func receiptID(_ domain: String, _ center: CenterID, _ digests: [[UInt8]]) -> UUID {
        let digest = SHA256.hash(parts: [Array(domain.utf8), Array(center.rawValue.utf8)] + digests)
        var bytes = Array(digest.prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80   // RFC 9562 version 8 (custom)
        bytes[8] = (bytes[8] & 0x3F) | 0x80   // RFC 9562 variant
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }

    /// The RECEIPT frames answering a batch of `peer`'s envelopes, signed concurrently:
    /// deliveries of version 2 envelopes (whose sender reads receipt batches) share one
    /// signature per `Receipt.maximumBatch`; everything else is signed alone. Nil answers
    /// (nothing to say) are skipped.
    func sign(_ answers: [Node.Answer?], to peer: CenterID) async -> [[UInt8]] {
        var batchable: [Node.Delivery] = []
        var alone: [Node.Answer] = []
        for answer in answers {
            switch answer {
            case .receipt(let delivery) where delivery.batchable: batchable.append(delivery)
            case .some(let answer): alone.append(answer)
            case .none: break
            }
        }
        var jobs: [Node.Answer] = []
        var start = 0
        while start < batchable.count {
            let end = min(start + Receipt.maximumBatch, batchable.count)
            jobs.append(end - start == 1 ? .receipt(batchable[start]) : .batch(Array(batchable[start..<end])))
            start = end
        }
        jobs += alone
        return await concurrentMap(jobs) { self.sign($0, to: peer) }
    }

    /// The bytes of one answer to `peer`.
    func sign(_ answer: Node.Answer, to peer: CenterID) -> [UInt8] {
        switch answer {
        case .receipt(let d): deliveryReceipt(for: d, sender: peer)
        case .batch(let items): deliveryReceipts(items, sender: peer)
        case let .refusal(id, sha256, reason, detail): refusal(answering: id, sha256: sha256, to: peer, reason: reason, detail: detail)
        }
    }

    /// A signed refusal: the sender learns why instead of waiting on silence.
    func refusal(answering envelopeID: UUID, sha256: [UInt8], to sender: CenterID, reason: Receipt.RefusalReason,
                 detail: String) -> [UInt8] {
        Envelope.receipt(answering: envelopeID, sha256: sha256, to: sender, from: center, signer: keys.signingKey,
                         outcome: .refused, reason: reason, detail: detail).bytes
    }
}

extension NodeConfiguration {
    /// Loads every key and certificate the node would, checking them against the CA and
    /// CRL, without starting anything (`iias node check-config`).
    public func checkKeysAndCertificates() throws(Problem) {
        try checkKeyPermissions()
        _ = try NodeCrypto(configuration: self)
    }
}
