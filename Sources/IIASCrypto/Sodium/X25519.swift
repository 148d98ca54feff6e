import CSodium
import Synchronization

/// An X25519 public key (RFC 7748): what content keys are sealed to.
public struct EncryptionPublicKey: Sendable, Hashable {
    public static let byteCount = 32
    public let rawRepresentation: [UInt8]

    public init(rawRepresentation bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw .invalidKey("an X25519 public key is 32 bytes, got \(bytes.count)")
        }
        rawRepresentation = bytes
    }

    /// Overhead of an anonymous sealed box: ephemeral public key + Poly1305 tag.
    public static let sealOverhead = Int(crypto_box_sealbytes())

    /// Seals a small record (e.g. what a node keeps about its own sent notifications)
    /// so that only this key's holder can read it back.
    public func seal(_ plaintext: [UInt8]) -> [UInt8] {
        plaintext.withUnsafeBytes { seal($0) }
    }

    /// Seals `plaintext` so that only the holder of the matching private key can open
    /// it (libsodium `crypto_box_seal`: ephemeral X25519 + XSalsa20-Poly1305).
    func seal(_ plaintext: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.ready()
        var out = [UInt8](repeating: 0, count: plaintext.count + Self.sealOverhead)
        rawRepresentation.withUnsafeBufferPointer { pk in
            _ = crypto_box_seal(&out, plaintext.bindMemory(to: UInt8.self).baseAddress,
                                UInt64(plaintext.count), pk.baseAddress!)
        }
        return out
    }
}

/// An X25519 private key in guarded memory; opens what was sealed to its public key.
public final class EncryptionPrivateKey: Sendable {
    public static let byteCount = 32
    let scalar: SecretBytes
    public let publicKey: EncryptionPublicKey
    /// Wrap keys agreed with senders' ephemeral keys (`unwrapKey(ephemeral:)`).
    let unwrapKeys = Mutex<[[UInt8]: SecretBytes]>([:])

    /// From the 32 raw private bytes that a PKCS#8 X25519 file holds.
    public init(rawRepresentation raw: UnsafeRawBufferPointer) throws(CryptoError) {
        guard raw.count == Self.byteCount else {
            throw .invalidKey("an X25519 private key is 32 bytes, got \(raw.count)")
        }
        Sodium.ready()
        scalar = SecretBytes(copying: raw)
        var pk = [UInt8](repeating: 0, count: EncryptionPublicKey.byteCount)
        scalar.withUnsafeBytes { sk in
            _ = crypto_scalarmult_base(&pk, sk.bindMemory(to: UInt8.self).baseAddress!)
        }
        publicKey = try EncryptionPublicKey(rawRepresentation: pk)
    }

    public static func generate() -> EncryptionPrivateKey {
        var raw = Sodium.randomBytes(byteCount)
        defer { wipe(&raw) }
        return try! raw.withUnsafeBytes { try EncryptionPrivateKey(rawRepresentation: $0) }
    }

    /// Opens what `EncryptionPublicKey.seal(_:)` sealed to this key; nil when it was
    /// not sealed to this key or was altered.
    public func open(_ sealed: [UInt8]) -> [UInt8]? {
        guard sealed.count > EncryptionPublicKey.sealOverhead else { return nil }
        var out = [UInt8](repeating: 0, count: sealed.count - EncryptionPublicKey.sealOverhead)
        let opened = out.withUnsafeMutableBytes { open(sealed, into: $0) }
        return opened ? out : nil
    }

    /// Opens a sealed box into `out` (exactly the plaintext's size); false when it was
    /// not sealed to this key or was altered.
    func open(_ sealed: some ContiguousBytesView, into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard out.count > 0 else { return false }
        return sealed.withBytes { box -> Bool in
            guard box.count == out.count + EncryptionPublicKey.sealOverhead else { return false }
            return scalar.withUnsafeBytes { sk in
                publicKey.rawRepresentation.withUnsafeBufferPointer { pk in
                    crypto_box_seal_open(out.bindMemory(to: UInt8.self).baseAddress!,
                                         box.bindMemory(to: UInt8.self).baseAddress!, UInt64(box.count),
                                         pk.baseAddress!, sk.bindMemory(to: UInt8.self).baseAddress!) == 0
                }
            }
        }
    }
}
