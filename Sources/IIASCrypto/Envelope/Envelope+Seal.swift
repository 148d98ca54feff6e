import CSodium
import Foundation
import IIASModel

extension Envelope {
    /// How the content key reaches each recipient, which fixes the envelope's version.
    public enum KeyTransport: Sendable {
        /// Version 1: a libsodium sealed box per recipient (a fresh ephemeral X25519 key
        /// each); what every build reads, for peers not yet upgraded.
        case sealedBoxes
        /// Version 2: wrapped under the key agreed between the epoch's ephemeral key and
        /// the recipient's (`WrappingEpoch`): a node keeps one epoch for all it sends.
        case wrapped(WrappingEpoch)
    }

    /// Seals a notification from its sender to every recipient it names: a fresh
    /// 32-byte content key encrypts the notification (XChaCha20-Poly1305, the header
    /// as associated data), the key is carried to each recipient as `transport` says
    /// (by default under a one-off epoch, as strong as a sealed box), and the sender's
    /// Ed25519 key signs the result. The content key is wiped on return.
    ///
    /// - Parameters:
    ///   - recipientKeys: an encryption key for every recipient, each taken from a
    ///     certificate that `TrustAnchor` verified for `.encryption`.
    ///   - namesSigner: the header names the signing key (version 3); false only for
    ///     peers whose build reads versions 1 and 2 alone.
    public static func seal(_ notification: FormalNotification, signer: SigningPrivateKey,
                            recipientKeys: [CenterID: EncryptionPublicKey], transport: KeyTransport = .wrapped(WrappingEpoch()),
                            namesSigner: Bool = true, created: Date = Date()) throws(EnvelopeError) -> Envelope {
        let plaintext: [UInt8]
        switch notification.validatedEncoding() {
        case .success(let bytes): plaintext = bytes
        case .failure(let invalid): throw .invalidNotification(invalid)
        }
        let recipients = Set(notification.recipients)
        guard recipients.count <= maximumRecipients else {
            throw .tooLarge(part: "recipient list", size: recipients.count, limit: maximumRecipients)
        }
        if let missing = recipients.subtracting(recipientKeys.keys).sorted().first {
            throw .cannotSeal("no encryption key for recipient \(missing)")
        }
        guard plaintext.count + XChaCha20Poly1305.tagByteCount <= maximumBodyBytes else {
            throw .tooLarge(part: "body", size: plaintext.count, limit: maximumBodyBytes)
        }
        let nonce = Sodium.randomBytes(XChaCha20Poly1305.nonceByteCount)
        let sealed = withEphemeralSecret(count: contentKeyByteCount) { contentKey -> Result<Envelope, EnvelopeError> in
            randombytes_buf(contentKey.baseAddress!, contentKey.count)
            let key = UnsafeRawBufferPointer(contentKey)
            var sealedKeys: [CenterID: [UInt8]] = [:]
            var ephemeral: [UInt8]?
            switch transport {
            case .sealedBoxes:
                for recipient in recipients { sealedKeys[recipient] = recipientKeys[recipient]!.seal(key) }
            case .wrapped(let epoch):
                let keys = epoch.keysForNextEnvelope()
                ephemeral = keys.publicKey
                for recipient in recipients {
                    guard let wrapKey = keys.wrapKey(for: recipientKeys[recipient]!) else {
                        return .failure(.cannotSeal("the encryption key of \(recipient) is not a usable X25519 key (a low-order point)"))
                    }
                    sealedKeys[recipient] = wrapKey.withUnsafeBytes { wrapKey in
                        XChaCha20Poly1305.seal(key, key: wrapKey, nonce: nonce,
                                               associatedData: KeyWrap.associatedData(envelope: notification.id, recipient: recipient))
                    }
                }
            }
            let header = EnvelopeHeader(
                id: notification.id, kind: .notification, sender: notification.sender,
                recipients: Array(recipients), created: created, nonce: nonce, ephemeral: ephemeral, sealedKeys: sealedKeys,
                signer: namesSigner ? signer.publicKey.identity : nil)
            let headerBytes = header.canonicalBytes
            guard headerBytes.count <= maximumHeaderBytes else {
                return .failure(.tooLarge(part: "header", size: headerBytes.count, limit: maximumHeaderBytes))
            }
            let body = XChaCha20Poly1305.seal(plaintext, key: key, nonce: nonce, associatedData: headerBytes)
            return .success(Envelope(header: header, headerBytes: headerBytes, body: body, signer: signer))
        }
        return try sealed.get()
    }

    /// A signed receipt from `sender` (the recipient of `envelope`) back to the
    /// envelope's sender: proof of delivery, or a refusal that names its reason.
    public static func receipt(for envelope: Envelope, from sender: CenterID, signer: SigningPrivateKey,
                               outcome: Receipt.Outcome, logIndex: UInt64? = nil,
                               reason: Receipt.RefusalReason? = nil, detail: String? = nil,
                               id: UUID = .random(), created: Date = Date()) -> Envelope {
        receipt(answering: envelope.id, sha256: envelope.sha256, to: envelope.header.sender, from: sender,
                signer: signer, outcome: outcome, logIndex: logIndex, reason: reason, detail: detail, id: id, created: created,
                namesSigner: envelope.version >= 3)
    }

    /// The same, for bytes that did not even parse as an envelope: the receipt names
    /// whatever id the caller could recover and the SHA-256 of the bytes received.
    public static func receipt(answering envelopeID: UUID, sha256: [UInt8], to originalSender: CenterID,
                               from sender: CenterID, signer: SigningPrivateKey, outcome: Receipt.Outcome,
                               logIndex: UInt64? = nil, reason: Receipt.RefusalReason? = nil, detail: String? = nil,
                               id: UUID = .random(), created: Date = Date(), namesSigner: Bool = false) -> Envelope {
        let receipt = Receipt(envelopeID: envelopeID, envelopeSHA256: sha256, outcome: outcome,
                              logIndex: logIndex, reason: reason, detail: detail)
        let header = EnvelopeHeader(id: id, kind: .receipt, sender: sender, recipients: [originalSender],
                                    created: created, receipt: receipt, signer: namesSigner ? signer.publicKey.identity : nil)
        return Envelope(header: header, headerBytes: header.canonicalBytes, body: [], signer: signer)
    }

    /// One signed envelope from `sender` carrying the delivery receipts of 2 to
    /// `Receipt.maximumBatch` envelopes of `originalSender` (`EnvelopeHeader.receiptBatch`).
    public static func receiptBatch(_ receipts: [Receipt], to originalSender: CenterID, from sender: CenterID,
                                    signer: SigningPrivateKey, id: UUID = .random(), created: Date = Date(),
                                    namesSigner: Bool = false) -> Envelope {
        let header = EnvelopeHeader(id: id, kind: .receipt, sender: sender, recipients: [originalSender],
                                    created: created, receiptBatch: receipts, signer: namesSigner ? signer.publicKey.identity : nil)
        return Envelope(header: header, headerBytes: header.canonicalBytes, body: [], signer: signer)
    }
}
