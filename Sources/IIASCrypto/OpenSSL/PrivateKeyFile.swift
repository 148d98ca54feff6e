import COpenSSL
import CSodium
import Foundation

/// Loads PKCS#8 PEM private keys (as `openssl genpkey` writes them, optionally
/// passphrase-encrypted) through OpenSSL, and hands the raw key bytes to libsodium.
/// The raw bytes pass through one buffer that is wiped before this returns.
public enum PrivateKeyFile {
    /// The PEM label of a passphrase-protected PKCS#8 key (RFC 7468 §11).
    static let encryptedPEMLabel = "ENCRYPTED PRIVATE KEY"

    static let maximumFileSize = 64 * 1024

    static func checkPermissions(_ path: String) throws(CryptoError) {
        try SecretFile.checkPermissions(path, what: "private key")
    }

    public static func loadSigningKey(_ path: String, passphrase: [UInt8]? = nil) throws(CryptoError) -> SigningPrivateKey {
        try withRawKey(path, expected: EVP_PKEY_ED25519, name: "Ed25519 signing", passphrase: passphrase) { raw throws(CryptoError) in
            try SigningPrivateKey(seed: raw)
        }
    }

    public static func loadEncryptionKey(_ path: String, passphrase: [UInt8]? = nil) throws(CryptoError) -> EncryptionPrivateKey {
        try withRawKey(path, expected: EVP_PKEY_X25519, name: "X25519 encryption", passphrase: passphrase) { raw throws(CryptoError) in
            try EncryptionPrivateKey(rawRepresentation: raw)
        }
    }

    /// Parses the key in `path` (permissions checked, the PEM read into locked memory
    /// and wiped) and lends OpenSSL's key object to `body`, which must not keep it
    /// beyond the call without taking a reference of its own (as SSL_CTX_use_PrivateKey
    /// does). For the TLS key, which OpenSSL itself uses.
    public static func withOpenSSLKey<R>(_ path: String, passphrase: [UInt8]?,
                                         _ body: (OpaquePointer) throws(CryptoError) -> R) throws(CryptoError) -> R {
        var pem = try SecretFile.read(path, limit: maximumFileSize, what: "private key")
        let locked = pem.withUnsafeMutableBytes { buffer in buffer.baseAddress.map { sodium_mlock($0, buffer.count) == 0 } ?? false }
        defer {
            // sodium_munlock wipes before unlocking; wipe anyway when the lock failed.
            if locked { pem.withUnsafeMutableBytes { buffer in _ = sodium_munlock(buffer.baseAddress!, buffer.count) } }
            wipe(&pem)
        }
        let pkey = try parse(pem: pem, path: path, passphrase: passphrase)
        defer { EVP_PKEY_free(pkey) }
        return try body(pkey)
    }

    private static func withRawKey<K>(_ path: String, expected: Int32, name: String, passphrase: [UInt8]?,
                                      _ make: (UnsafeRawBufferPointer) throws(CryptoError) -> K) throws(CryptoError) -> K {
        try withOpenSSLKey(path, passphrase: passphrase) { pkey throws(CryptoError) in
            try rawKey(of: pkey, path: path, expected: expected, name: name, make)
        }
    }

    private static func rawKey<K>(of pkey: OpaquePointer, path: String, expected: Int32, name: String,
                                  _ make: (UnsafeRawBufferPointer) throws(CryptoError) -> K) throws(CryptoError) -> K {
        guard EVP_PKEY_get_base_id(pkey) == expected else {
            throw .invalidKey("\(path) is not an \(name) key (one key, one purpose)")
        }
        var raw = [UInt8](repeating: 0, count: 32)
        defer { wipe(&raw) }
        var length = raw.count
        guard EVP_PKEY_get_raw_private_key(pkey, &raw, &length) == 1, length == 32 else {
            throw .invalidKey(OpenSSLErrors.describe("cannot extract the raw key from \(path)"))
        }
        let result = raw.withUnsafeBytes { buffer in Result { () throws(CryptoError) -> K in try make(buffer) } }
        return try result.get()
    }

    private static func parse(pem: [UInt8], path: String, passphrase: [UInt8]?) throws(CryptoError) -> OpaquePointer {
        OpenSSLErrors.drain().forEach { _ in }
        let bio = pem.withUnsafeBytes { BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }
        guard let bio else { throw .invalidKey(OpenSSLErrors.describe("out of memory reading \(path)")) }
        defer { BIO_free(bio) }
        let key: OpaquePointer?
        if var secret = passphrase {
            // With no callback, OpenSSL reads the passphrase from `u` as a C string.
            secret.append(0)
            defer { wipe(&secret) }
            key = secret.withUnsafeMutableBytes { PEM_read_bio_PrivateKey(bio, nil, nil, $0.baseAddress) }
        } else {
            // A callback that supplies no passphrase, so OpenSSL never prompts on a terminal.
            key = PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
        }
        guard let key else {
            let detail = OpenSSLErrors.drain().joined(separator: "; ")
            let encrypted = pem.starts(with: Array("-----BEGIN \(Self.encryptedPEMLabel)-----".utf8))
            if encrypted {
                throw .invalidKey(passphrase == nil
                    ? "\(path) is passphrase-protected; give the passphrase (--passphrase-file)"
                    : "wrong passphrase for \(path)")
            }
            throw .invalidKey("\(path) is not a PKCS#8 PEM private key" + (detail.isEmpty ? "" : " (\(detail))"))
        }
        return key
    }
}
