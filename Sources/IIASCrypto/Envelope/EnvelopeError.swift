import IIASModel

/// Why an envelope was refused. Parsing errors come before any cryptography; each case
/// says which check failed so that a refusal can be reported to the sender by name.
public enum EnvelopeError: Error, Sendable, CustomStringConvertible {
    /// Zero bytes were given.
    case empty
    /// Fewer bytes than the layout announced: `needed` at least, `actual` present.
    case truncated(needed: Int, actual: Int)
    /// The first four bytes are not "IIAS": this is not an envelope.
    case badMagic
    /// A version this build does not implement.
    case unsupportedVersion(UInt8)
    /// A length field exceeds its fixed bound (checked before anything is allocated).
    case tooLarge(part: String, size: Int, limit: Int)
    /// Bytes remain after the signature.
    case trailingBytes(Int)
    /// The header is not valid JSON, or a field is missing or wrong; names the field.
    case malformedHeader(String)
    /// The header is valid JSON but not in the one canonical form the signer must use.
    case nonCanonicalHeader
    /// The Ed25519 signature does not verify with the key the envelope names (version 3):
    /// the envelope was altered after signing.
    case badSignature
    /// No signing certificate for the sender was found.
    case unknownSender(CenterID)
    /// None of the sender's `known` signing certificates holds the key that signed an
    /// envelope that names no key (versions 1 and 2): it was altered, or signed with a key
    /// whose certificate this folder lacks — which of the two cannot be told.
    case noSignerCertificate(CenterID, known: Int)
    /// The header names a signing key (version 3) for which no certificate of the sender
    /// is known: a newer key than the folder holds, or one the CA never certified.
    case unknownSigningKey(CenterID, [UInt8])
    /// The sender's certificate failed verification (foreign CA, expired, revoked, …).
    case untrustedSender(String)
    /// The envelope is not addressed to this center.
    case notARecipient(CenterID)
    /// The content key sealed to this center does not open with the key given.
    case wrongKey(CenterID)
    /// The body does not decrypt: it or the header was altered after sealing.
    case bodyTampered
    /// The decrypted notification does not agree with the signed header.
    case mismatch(String)
    /// The notification inside (or given to seal) is not valid.
    case invalidNotification(NotificationInvalid)
    /// The operation needs a different kind of envelope (e.g. opening a receipt).
    case wrongKind(expected: String, actual: String)
    /// Sealing was asked without a key for every recipient, or similar misuse.
    case cannotSeal(String)

    /// The description without any value from the notification inside: what a refusal on
    /// the wire and the node's journal carry (the field and the rule are enough to fix it).
    public var redactedDescription: String {
        if case .invalidNotification(let problems) = self { return "invalid notification: \(problems.redactedDescription)" }
        return description
    }

    public var description: String {
        switch self {
        case .empty: return "the envelope is empty"
        case let .truncated(needed, actual): return "the envelope is truncated: needs at least \(needed) bytes, has \(actual)"
        case .badMagic: return "not an IIAS envelope (the first bytes are not \"IIAS\")"
        case let .unsupportedVersion(v): return "envelope version \(v) is not supported by this build (supports \(Envelope.supportedVersions.lowerBound) to \(Envelope.supportedVersions.upperBound)); upgrade iias to read it"
        case let .tooLarge(part, size, limit): return "the envelope's \(part) is \(size) bytes; the limit is \(limit)"
        case let .trailingBytes(n): return "\(n) unexpected bytes after the signature"
        case let .malformedHeader(why): return "malformed header: \(why)"
        case .nonCanonicalHeader: return "the header is not in canonical form (re-encoding it changes its bytes)"
        case .badSignature: return "the signature does not verify with the key the envelope names: the envelope was altered after it was signed"
        case let .unknownSender(id): return "no signing certificate for sender \(id) (add it to the certificate directory)"
        case let .unknownSigningKey(id, key): return "no certificate of \(id) is known for the key that signed this (SubjectPublicKeyInfo SHA-256 \(key.hexString)): add \(id)'s newer certificates, or distrust the envelope"
        case let .noSignerCertificate(id, known):
            return "the signature verifies with \(known == 1 ? "\(id)'s signing certificate" : "none of the \(known) signing certificates of \(id)"): "
                + "the envelope was altered, or signed with a key whose certificate is not here (give every certificate \(id) ever had, its history folder included)"
        case let .untrustedSender(why): return "the sender is not trusted: \(why)"
        case let .notARecipient(id): return "the envelope is not addressed to \(id)"
        case let .wrongKey(id): return "the content key for \(id) does not open with this encryption key (wrong key file?)"
        case .bodyTampered: return "the body does not decrypt: it or its header was altered"
        case let .mismatch(why): return "the notification disagrees with the signed header: \(why)"
        case let .invalidNotification(problems): return "invalid notification: \(problems)"
        case let .wrongKind(expected, actual): return "expected a \(expected) envelope, got a \(actual)"
        case let .cannotSeal(why): return "cannot seal: \(why)"
        }
    }
}
