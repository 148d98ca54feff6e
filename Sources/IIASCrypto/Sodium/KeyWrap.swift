import CSodium
import Foundation
import IIASModel
import Synchronization

/// How envelope version 2 carries the content key to each recipient: wrapped with
/// XChaCha20-Poly1305 under a key agreed between the sender's *ephemeral* X25519 key of
/// the moment (`WrappingEpoch`) and the recipient's X25519 key. It is a sealed box whose
/// ephemeral key lives for an epoch (a minute) instead of for one envelope, so the two
/// X25519 operations of a sealed box (≈ 95 µs a recipient, sender and recipient together)
/// are paid once an epoch, not once an envelope. The security argument is in
/// `EnvelopeFormat.md` ("Key wrapping, version 2").
enum KeyWrap {
    /// Domain separation of the derived keys from every other use of X25519 in IIAS.
    static let context: [UInt8] = Array("IIAS-key-wrap-v2\0".utf8)
    /// The content key and its Poly1305 tag.
    static let wrappedByteCount = Envelope.contentKeyByteCount + XChaCha20Poly1305.tagByteCount

    /// `BLAKE2b-256(key = X25519(secret, peer), context ‖ ephemeral ‖ recipient)`, in
    /// guarded memory; nil when `peer` is a low-order point (X25519 gives all zeros).
    static func deriveKey(secret: UnsafeRawBufferPointer, peer: [UInt8], ephemeral: [UInt8], recipient: [UInt8]) -> SecretBytes? {
        withEphemeralSecret(count: EncryptionPublicKey.byteCount) { shared -> SecretBytes? in
            guard crypto_scalarmult(shared.bindMemory(to: UInt8.self).baseAddress!,
                                    secret.bindMemory(to: UInt8.self).baseAddress!, peer) == 0 else { return nil }
            let message = context + ephemeral + recipient
            return SecretBytes(count: XChaCha20Poly1305.keyByteCount) { out in
                _ = crypto_generichash(out.bindMemory(to: UInt8.self).baseAddress!, out.count, message, UInt64(message.count),
                                       UnsafeRawBufferPointer(shared).bindMemory(to: UInt8.self).baseAddress!, shared.count)
            }
        }
    }

    /// What a wrapped key is bound to besides its wrap key: its envelope and recipient,
    /// so that it cannot be moved to another envelope of the same epoch or another slot.
    static func associatedData(envelope id: UUID, recipient: CenterID) -> [UInt8] {
        Array(id.canonicalString.utf8) + [0] + Array(recipient.rawValue.utf8)
    }
}

/// A sender's ephemeral X25519 key pair of the moment and the wrap keys it agreed with
/// each recipient, replaced after `lifetime` or `envelopeLimit` envelopes, whichever
/// comes first; the replaced secret is wiped as soon as no seal in progress holds it.
/// Thread-safe: every submission of a node seals with the same epoch. A one-off epoch
/// (`WrappingEpoch()` used once, as the CLI does) is a sealed box with the same layout.
public final class WrappingEpoch: Sendable {
    public static let defaultLifetime: TimeInterval = 60
    public static let defaultEnvelopeLimit = 1 << 20

    /// One ephemeral key pair and what was derived from it.
    final class Keys: Sendable {
        let secret: SecretBytes
        let publicKey: [UInt8]
        let until: Date
        let wrapKeys: Mutex<[[UInt8]: SecretBytes]> = Mutex([:])

        init(until: Date) {
            secret = SecretBytes(count: EncryptionPrivateKey.byteCount) { randombytes_buf($0.baseAddress!, $0.count) }
            var pk = [UInt8](repeating: 0, count: EncryptionPublicKey.byteCount)
            secret.withUnsafeBytes { _ = crypto_scalarmult_base(&pk, $0.bindMemory(to: UInt8.self).baseAddress!) }
            publicKey = pk
            self.until = until
        }
    }

    private let lifetime: TimeInterval
    private let envelopeLimit: Int
    /// The current key pair and how many envelopes it has sealed.
    private let current: Mutex<(keys: Keys, used: Int)?> = Mutex(nil)

    public init(lifetime: TimeInterval = defaultLifetime, envelopeLimit: Int = defaultEnvelopeLimit) {
        precondition(lifetime > 0 && envelopeLimit > 0)
        Sodium.ready()
        self.lifetime = lifetime
        self.envelopeLimit = envelopeLimit
    }

    /// The key pair for one more envelope sealed at `now`, a fresh one when the current
    /// one has had its time or its count.
    func keysForNextEnvelope(at now: Date = Date()) -> Keys {
        current.withLock { current in
            if let (keys, used) = current, keys.until > now, used < envelopeLimit {
                current = (keys, used + 1)
                return keys
            }
            let fresh = Keys(until: now.addingTimeInterval(lifetime))
            current = (fresh, 1)
            return fresh
        }
    }
}

extension WrappingEpoch.Keys {
    /// The wrap key agreed with `recipient`, derived on first use in this epoch.
    func wrapKey(for recipient: EncryptionPublicKey) -> SecretBytes? {
        if let known = wrapKeys.withLock({ $0[recipient.rawRepresentation] }) { return known }
        let derived = secret.withUnsafeBytes {
            KeyWrap.deriveKey(secret: $0, peer: recipient.rawRepresentation, ephemeral: publicKey,
                              recipient: recipient.rawRepresentation)
        }
        guard let derived else { return nil }
        return wrapKeys.withLock { keys in
            if let raced = keys[recipient.rawRepresentation] { return raced }
            keys[recipient.rawRepresentation] = derived
            return derived
        }
    }
}

extension EncryptionPrivateKey {
    /// The wrap key agreed with a sender's ephemeral key, remembered for the senders'
    /// current epochs (a few entries: one a sender a minute), so that only the first
    /// envelope of an epoch pays the X25519 exchange. Only verified envelopes get here,
    /// so only certified senders choose what is remembered; the bound keeps the guarded
    /// memory it takes small whatever they choose.
    func unwrapKey(ephemeral: [UInt8]) -> SecretBytes? {
        if let known = unwrapKeys.withLock({ $0[ephemeral] }) { return known }
        let derived = scalar.withUnsafeBytes {
            KeyWrap.deriveKey(secret: $0, peer: ephemeral, ephemeral: ephemeral, recipient: publicKey.rawRepresentation)
        }
        guard let derived else { return nil }
        unwrapKeys.withLock { keys in
            if keys.count >= Self.unwrapKeyCacheLimit { keys.removeAll() }
            keys[ephemeral] = derived
        }
        return derived
    }

    static let unwrapKeyCacheLimit = 64
}
