import CSodium

/// An Ed25519 public key (RFC 8032): verifies signatures of envelopes, receipts and
/// tree heads. Constructed from the 32 raw bytes that a certificate carries.
public struct SigningPublicKey: Sendable, Hashable {
    public static let byteCount = 32
    public let rawRepresentation: [UInt8]

    public init(rawRepresentation bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw .invalidKey("an Ed25519 public key is 32 bytes, got \(bytes.count)")
        }
        rawRepresentation = bytes
    }

    /// The DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): this prefix, then the key.
    static let subjectPublicKeyInfoPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]

    /// SHA-256 of the key's DER SubjectPublicKeyInfo: the key's identity, equal to
    /// `Certificate.publicKeyIdentity` of every certificate of this key, and what a
    /// version 3 envelope names as its signer.
    public var identity: [UInt8] { SHA256.hash(Self.subjectPublicKeyInfoPrefix + rawRepresentation) }

    /// True when `signature` is a valid Ed25519 signature of `message` by this key.
    public func isValidSignature(_ signature: some ContiguousBytesView, for message: some ContiguousBytesView) -> Bool {
        Sodium.ready()
        return signature.withBytes { sig in
            guard sig.count == Int(crypto_sign_BYTES) else { return false }
            return message.withBytes { msg in
                rawRepresentation.withUnsafeBufferPointer { pk in
                    crypto_sign_verify_detached(
                        sig.bindMemory(to: UInt8.self).baseAddress!,
                        msg.bindMemory(to: UInt8.self).baseAddress, UInt64(msg.count),
                        pk.baseAddress!) == 0
                }
            }
        }
    }
}

/// An Ed25519 private key held in guarded memory. The only thing it does is sign.
public final class SigningPrivateKey: Sendable {
    public static let seedByteCount = 32
    public static let signatureByteCount = 64
    private let secretKey: SecretBytes  // libsodium's 64-byte form: seed || public key
    public let publicKey: SigningPublicKey

    /// Derives the key pair from a 32-byte RFC 8032 seed (what PKCS#8 files hold).
    public init(seed: UnsafeRawBufferPointer) throws(CryptoError) {
        guard seed.count == Self.seedByteCount else {
            throw .invalidKey("an Ed25519 private key seed is 32 bytes, got \(seed.count)")
        }
        Sodium.ready()
        var pk = [UInt8](repeating: 0, count: SigningPublicKey.byteCount)
        secretKey = SecretBytes(count: Int(crypto_sign_SECRETKEYBYTES)) { sk in
            _ = crypto_sign_seed_keypair(&pk, sk.bindMemory(to: UInt8.self).baseAddress!,
                                         seed.bindMemory(to: UInt8.self).baseAddress!)
        }
        publicKey = try SigningPublicKey(rawRepresentation: pk)
    }

    /// A fresh random key pair (tests and benchmarks; real keys come from PKCS#8 files).
    public static func generate() -> SigningPrivateKey {
        var seed = Sodium.randomBytes(seedByteCount)
        defer { wipe(&seed) }
        return try! seed.withUnsafeBytes { try SigningPrivateKey(seed: $0) }
    }

    public func signature(for message: some ContiguousBytesView) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: Self.signatureByteCount)
        message.withBytes { msg in
            secretKey.withUnsafeBytes { sk in
                _ = crypto_sign_detached(&sig, nil,
                                         msg.bindMemory(to: UInt8.self).baseAddress, UInt64(msg.count),
                                         sk.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        return sig
    }
}
