import Foundation
import IIASModel
import Synchronization

/// Where signing and encryption certificates of other centers come from: a directory
/// an auditor was given, or the node's configured peers. A center has one current
/// certificate per purpose and any number of earlier ones (rotated, not revoked), which
/// still verify what they signed.
public protocol CertificateSource: Sendable {
    /// The certificate `center` uses for `purpose` now (the newest in force), or nil.
    func certificate(of center: CenterID, for purpose: KeyPurpose) -> Certificate?
    /// Every certificate known of `center` for `purpose`, newest first.
    func certificates(of center: CenterID, for purpose: KeyPurpose) -> [Certificate]
}

extension CertificateSource {
    public func certificates(of center: CenterID, for purpose: KeyPurpose) -> [Certificate] {
        certificate(of: center, for: purpose).map { [$0] } ?? []
    }
}

/// An envelope whose signature was checked against a trusted certificate of its
/// sender. Only a verified envelope can be opened, so no caller can read content
/// whose origin was not proven.
public struct VerifiedEnvelope: Sendable {
    public let envelope: Envelope
    /// The certificate whose key made the signature (current or from the sender's history).
    public let senderCertificate: Certificate
}

/// Checks who signed an envelope: finds the sender's signing certificate whose key made
/// the signature (the sender's current one or an earlier one: keys rotate, history
/// stays), verifies it against the trust anchor (chain, CRL, validity, purpose, center
/// id) at the time asked, then returns the envelope as verified. Certificate checks are
/// remembered per certificate for `cacheLifetime`, so a busy node pays OpenSSL's chain
/// walk once per peer, not per envelope; a new `TrustAnchor` (a CRL reload) starts a new
/// verifier and a new cache.
///
/// An audit asks about past times (each entry's own), and those are remembered as a
/// span per certificate: the times at which a certificate is accepted form one interval
/// (its validity, its issuer's, and "before the revocation took effect" are each an
/// interval; the CRL's currency is judged at the present, whatever the time asked), so a
/// certificate accepted at both ends of a span is accepted at every time inside it. A miss
/// verifies at its own time and at the latest time the certificate could still pass (now,
/// or just before it expires), and remembers the span between: a million-entry audit
/// walks each chain a few times instead of a million.
public final class EnvelopeVerifier: Sendable {
    public let trust: TrustAnchor
    public let certificates: any CertificateSource
    private let cacheLifetime: TimeInterval
    private let verifiedUntil = Mutex<[[UInt8]: Date]>([:])
    /// Per certificate fingerprint and center: a span of past times at which it verified.
    private let acceptedSpans = Mutex<[[UInt8]: ClosedRange<Date>]>([:])
    /// Per sender, the fingerprint of the certificate that signed its last envelope: tried
    /// first, so a sender with a history of keys costs one signature check, not several.
    private let lastSigner = Mutex<[CenterID: [UInt8]]>([:])

    public init(trust: TrustAnchor, certificates: any CertificateSource, cacheLifetime: TimeInterval = 60) {
        self.trust = trust
        self.certificates = certificates
        self.cacheLifetime = cacheLifetime
    }

    /// - Parameter time: the time at which the sender's certificate must be valid and
    ///   not yet revoked: now for live traffic, or the time a log recorded the envelope
    ///   for an audit of a log (the CRL, issued later, is the right evidence about it).
    public func verify(_ envelope: Envelope, at time: Date = Date()) throws(EnvelopeError) -> VerifiedEnvelope {
        let certificate = try signer(of: envelope)
        try checkCertificate(certificate, of: envelope.header.sender, at: time)
        return VerifiedEnvelope(envelope: envelope, senderCertificate: certificate)
    }

    public func verify(_ envelope: Envelope, atSigningTime: Bool) throws(EnvelopeError) -> VerifiedEnvelope {
        try verify(envelope, at: atSigningTime ? envelope.header.created : Date())
    }

    /// An envelope read back from our own log, where it was verified in full when it was
    /// logged: the signature and that this CA issued the signer's certificate to the
    /// sender are checked again (the disk is not trusted more than the wire), but not
    /// today's CRL or date — stored means verified, and a CRL refresh, an expiry or a
    /// later revocation does not make history unreadable.
    public func verifyStored(_ envelope: Envelope) throws(EnvelopeError) -> VerifiedEnvelope {
        let certificate = try signer(of: envelope)
        do { try trust.verifyIssued(certificate, for: .signing, of: envelope.header.sender) } catch {
            throw .untrustedSender(error.description)
        }
        return VerifiedEnvelope(envelope: envelope, senderCertificate: certificate)
    }

    /// The sender's certificate whose key made the envelope's signature: the one the
    /// header names (version 3), else the one of the sender's that verifies it.
    public func signer(of envelope: Envelope) throws(EnvelopeError) -> Certificate {
        let sender = envelope.header.sender
        var candidates = certificates.certificates(of: sender, for: .signing)
        guard !candidates.isEmpty else { throw .unknownSender(sender) }
        if let named = envelope.header.signer {
            guard let certificate = candidates.first(where: { $0.publicKeyIdentity == named }) else {
                throw .unknownSigningKey(sender, named)
            }
            guard let key = try? certificate.signingPublicKey(), envelope.isSignatureValid(with: key) else { throw .badSignature }
            return certificate
        }
        if candidates.count > 1, let last = lastSigner.withLock({ $0[sender] }),
           let position = candidates.firstIndex(where: { $0.fingerprint == last }), position > 0 {
            candidates.insert(candidates.remove(at: position), at: 0)
        }
        for (position, certificate) in candidates.enumerated() {
            guard let key = try? certificate.signingPublicKey(), envelope.isSignatureValid(with: key) else { continue }
            if position > 0 { lastSigner.withLock { $0[sender] = certificate.fingerprint } }
            return certificate
        }
        throw .noSignerCertificate(sender, known: candidates.count)
    }

    private func checkCertificate(_ certificate: Certificate, of center: CenterID, at time: Date) throws(EnvelopeError) {
        let now = Date()
        let live = abs(time.timeIntervalSince(now)) < 1
        let key = certificate.fingerprint
        if live, let until = verifiedUntil.withLock({ $0[key] }), until > now, certificate.notAfter > now {
            return
        }
        let spanKey = key + Array(center.rawValue.utf8)
        if !live, acceptedSpans.withLock({ $0[spanKey]?.contains(time) ?? false }) { return }
        do {
            try trust.verify(certificate, for: .signing, of: center, at: time)
        } catch {
            throw .untrustedSender(error.description)
        }
        if !live {
            let latest = min(now, certificate.notAfter.addingTimeInterval(-1))
            var span = time...time
            if latest > time, (try? trust.verify(certificate, for: .signing, of: center, at: latest)) != nil { span = time...latest }
            acceptedSpans.withLock { spans in
                if spans.count > 4096 { spans.removeAll() }
                if let known = spans[spanKey], known.overlaps(span) || known.upperBound == span.lowerBound {
                    span = min(known.lowerBound, span.lowerBound)...max(known.upperBound, span.upperBound)
                }
                spans[spanKey] = span
            }
        }
        if live {
            verifiedUntil.withLock { cache in
                if cache.count > 4096 { cache.removeAll() }
                cache[key] = now.addingTimeInterval(cacheLifetime)
            }
        }
    }
}

extension VerifiedEnvelope {
    /// Decrypts the notification as `center`, with that center's X25519 key, and
    /// checks that it agrees with the signed header (id, sender, recipients).
    public func open(as center: CenterID, with key: EncryptionPrivateKey) throws(EnvelopeError) -> FormalNotification {
        let header = envelope.header
        guard header.kind == .notification else {
            throw .wrongKind(expected: EnvelopeHeader.Kind.notification.rawValue, actual: header.kind.rawValue)
        }
        guard let sealedKey = header.sealedKeys[center], let nonce = header.nonce else { throw .notARecipient(center) }
        let decrypted = withEphemeralSecret(count: Envelope.contentKeyByteCount) { contentKey -> Result<[UInt8], EnvelopeError> in
            if let ephemeral = header.ephemeral {
                guard let wrapKey = key.unwrapKey(ephemeral: ephemeral),
                      wrapKey.withUnsafeBytes({ wrapKey in
                          XChaCha20Poly1305.open(sealedKey, key: wrapKey, nonce: nonce,
                                                 associatedData: KeyWrap.associatedData(envelope: header.id, recipient: center),
                                                 into: contentKey)
                      }) else { return .failure(.wrongKey(center)) }
            } else {
                guard key.open(sealedKey, into: contentKey) else { return .failure(.wrongKey(center)) }
            }
            guard let plaintext = XChaCha20Poly1305.open(envelope.body, key: UnsafeRawBufferPointer(contentKey),
                                                         nonce: nonce, associatedData: envelope.headerBytes) else {
                return .failure(.bodyTampered)
            }
            return .success(plaintext)
        }
        let plaintext = try decrypted.get()
        let notification: FormalNotification
        do {
            notification = try FormalNotification.parse(plaintext)
        } catch {
            throw .invalidNotification(error)
        }
        guard notification.id == header.id else { throw .mismatch("notification id \(notification.id) differs from envelope id") }
        guard notification.sender == header.sender else {
            throw .mismatch("the notification names sender \(notification.sender), the envelope \(header.sender)")
        }
        guard Set(notification.recipients) == Set(header.recipients) else {
            throw .mismatch("the notification's recipients differ from the envelope's")
        }
        return notification
    }
}
