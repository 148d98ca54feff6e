import CSodium

/// A node's key for records that only it reads back (its outbox summaries, its saved
/// desk index), derived from
/// its X25519 private key: no key file of its own to keep, back up or rotate, and a seal
/// costs an XChaCha20-Poly1305 encryption (≈ 1 µs) where a sealed box to the node's own
/// public key costs an ephemeral X25519 key pair and exchange (≈ 70 µs) per record.
///
/// Security argument. The key is `crypto_kdf_derive_from_key` (keyed BLAKE2b, a PRF) of
/// the 32 random bytes of the X25519 private key, with a context (`IIASself`) and a
/// purpose number no other part of IIAS uses; X25519 publishes only the scalar's public
/// point, and a PRF's output under a secret key reveals nothing of the key, so a holder
/// of the log and of every certificate learns nothing of either key and cannot forge or
/// read a record. Nonces are 192 random bits per record (no nonce state, collisions
/// negligible at any number of records a node will write). The associated data binds
/// each record to what it is about (the envelope id of a summary), so a record cannot be
/// moved to another entry and read there. Whoever holds the private key reads the
/// records, exactly as with the sealed boxes before.
public final class SelfSealingKey: Sendable {
    /// What a key is for; each purpose derives an unrelated key.
    public enum Purpose: UInt64, Sendable {
        case outboxSummary = 1
        /// The node's saved desk index (threads and requests), a cache beside its log.
        case deskIndex = 2
    }

    static let context = Array("IIASself".utf8)
    /// Random nonce, then ciphertext and tag.
    public static let overhead = XChaCha20Poly1305.nonceByteCount + XChaCha20Poly1305.tagByteCount

    private let key: SecretBytes

    init(deriving scalar: SecretBytes, purpose: Purpose) {
        precondition(scalar.count == Int(crypto_kdf_KEYBYTES) && Self.context.count == Int(crypto_kdf_CONTEXTBYTES))
        key = SecretBytes(count: XChaCha20Poly1305.keyByteCount) { out in
            scalar.withUnsafeBytes { master in
                Self.context.withUnsafeBufferPointer { context in
                    context.withMemoryRebound(to: CChar.self) { ctx in
                        _ = crypto_kdf_derive_from_key(out.bindMemory(to: UInt8.self).baseAddress!, out.count, purpose.rawValue,
                                                       ctx.baseAddress!, master.bindMemory(to: UInt8.self).baseAddress!)
                    }
                }
            }
        }
    }

    /// `plaintext` encrypted and authenticated with `associatedData`: nonce ‖ ciphertext ‖ tag.
    public func seal(_ plaintext: [UInt8], associatedData: [UInt8]) -> [UInt8] {
        let nonce = Sodium.randomBytes(XChaCha20Poly1305.nonceByteCount)
        return key.withUnsafeBytes { key in
            nonce + XChaCha20Poly1305.seal(plaintext, key: key, nonce: nonce, associatedData: associatedData)
        }
    }

    /// The plaintext of a `seal(_:associatedData:)` record, or nil when the record was
    /// sealed under another key or for other associated data, or altered, or is too short.
    public func open(_ record: [UInt8], associatedData: [UInt8]) -> [UInt8]? {
        guard record.count >= Self.overhead else { return nil }
        let nonce = record[..<XChaCha20Poly1305.nonceByteCount]
        let ciphertext = record[XChaCha20Poly1305.nonceByteCount...]
        return key.withUnsafeBytes { key in
            XChaCha20Poly1305.open(ciphertext, key: key, nonce: nonce, associatedData: associatedData)
        }
    }
}

extension EncryptionPrivateKey {
    /// This key's self-sealing key for `purpose` (see `SelfSealingKey` for why it is safe
    /// to derive it from the X25519 private key).
    public func selfSealingKey(for purpose: SelfSealingKey.Purpose) -> SelfSealingKey {
        SelfSealingKey(deriving: scalar, purpose: purpose)
    }
}
