import COpenSSL
import Foundation
import IIASModel

/// What a center's key pair is for. One key, one purpose: a signing certificate can
/// never be used to seal, nor an encryption certificate to sign.
public enum KeyPurpose: String, Sendable, CaseIterable, Codable {
    /// Ed25519, keyUsage digitalSignature + nonRepudiation: envelopes, receipts, tree heads.
    case signing
    /// X25519, keyUsage keyAgreement: content keys are sealed to it.
    case encryption
    /// Ed25519 or P-256, digitalSignature, extendedKeyUsage serverAuth + clientAuth.
    case tls
    /// Ed25519, keyUsage digitalSignature only (no nonRepudiation, no extendedKeyUsage):
    /// cosignatures of the peers' log checkpoints (C2SP tlog-cosignature). A statement
    /// that a log was seen append-only, kept apart from the key that signs content.
    case witness
}

/// An X.509 certificate parsed by OpenSSL, with the facts IIAS needs read out once:
/// the center id (from the SAN URI `iias:center:ID`), validity and the key.
/// Parsing proves nothing about trust; `TrustAnchor.verify` does.
public final class Certificate: @unchecked Sendable {
    // The X509 object is never mutated after parsing; OpenSSL allows concurrent reads.
    let x509: OpaquePointer
    public let der: [UInt8]
    /// The center named by the SAN URI `iias:center:ID`; nil when absent or malformed.
    public let centerID: CenterID?
    public let subject: String
    public let issuer: String
    public let serialNumber: String
    public let notBefore: Date
    public let notAfter: Date
    public let isCA: Bool
    /// SHA-256 of the DER encoding, as `openssl x509 -fingerprint -sha256` shows it (the
    /// key of every per-certificate cache, so computed once).
    public let fingerprint: [UInt8]
    /// SHA-256 of the DER SubjectPublicKeyInfo: the key's identity, the same in every
    /// certificate of that key, and what a version 3 envelope names as its signer
    /// (`openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`).
    public let publicKeyIdentity: [UInt8]

    static let maximumFileSize = 256 * 1024

    public convenience init(pemFile path: String) throws(CryptoError) {
        let pem = try FileBytes.read(path, limit: Self.maximumFileSize, what: "certificate")
        try self.init(pem: pem, source: path)
    }

    /// Parses the first PEM certificate in `pem`.
    public init(pem: [UInt8], source: String = "certificate") throws(CryptoError) {
        let parsed: OpaquePointer? = pem.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509(bio, nil, nil, nil)
        }
        guard let parsed else {
            throw .invalidCertificate(OpenSSLErrors.describe("\(source) is not a PEM certificate"))
        }
        x509 = parsed
        var derPointer: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509(parsed, &derPointer)
        if length > 0, let derPointer {
            der = Array(UnsafeBufferPointer(start: derPointer, count: Int(length)))
            CRYPTO_free(derPointer, #fileID, #line)
        } else {
            der = []
        }
        subject = Self.oneLine(X509_get_subject_name(parsed))
        issuer = Self.oneLine(X509_get_issuer_name(parsed))
        serialNumber = Self.serialHex(parsed)
        notBefore = Self.date(X509_get0_notBefore(parsed)) ?? .distantFuture
        notAfter = Self.date(X509_get0_notAfter(parsed)) ?? .distantPast
        isCA = X509_check_ca(parsed) != 0
        centerID = Self.centerID(parsed)
        fingerprint = SHA256.hash(der)
        publicKeyIdentity = Self.publicKeyIdentity(parsed)
        OpenSSLErrors.drain().forEach { _ in }
    }

    deinit { X509_free(x509) }

    /// SHA-256 of the DER SubjectPublicKeyInfo of `x509`'s key.
    private static func publicKeyIdentity(_ x509: OpaquePointer) -> [UInt8] {
        guard let key = X509_get0_pubkey(x509) else { return [] }
        var pointer: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PUBKEY(key, &pointer)
        guard length > 0, let pointer else { return [] }
        defer { CRYPTO_free(pointer, #fileID, #line) }
        return SHA256.hash(Array(UnsafeBufferPointer(start: pointer, count: Int(length))))
    }

    /// The key usage bits (KU_*), or nil when the extension is absent.
    var keyUsage: UInt32? {
        let bits = X509_get_key_usage(x509)
        return bits == UInt32.max ? nil : bits
    }

    /// The extended key usage bits (XKU_*), or nil when the extension is absent.
    var extendedKeyUsage: UInt32? {
        let bits = X509_get_extended_key_usage(x509)
        return bits == UInt32.max ? nil : bits
    }

    /// OpenSSL's id of the key algorithm (EVP_PKEY_ED25519, EVP_PKEY_X25519, EVP_PKEY_EC).
    var keyType: Int32 {
        guard let key = X509_get0_pubkey(x509) else { return 0 }
        return EVP_PKEY_get_base_id(key)
    }

    private func rawPublicKey() -> [UInt8]? {
        guard let key = X509_get0_pubkey(x509) else { return nil }
        var raw = [UInt8](repeating: 0, count: 32)
        var length = raw.count
        guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32 else {
            OpenSSLErrors.drain().forEach { _ in }
            return nil
        }
        return raw
    }

    /// The Ed25519 key of a signing (or witness) certificate.
    public func signingPublicKey() throws(CryptoError) -> SigningPublicKey {
        guard keyType == EVP_PKEY_ED25519, let raw = rawPublicKey() else {
            throw .invalidCertificate("\(subject) does not hold an Ed25519 key")
        }
        return try SigningPublicKey(rawRepresentation: raw)
    }

    /// The X25519 key of an encryption certificate.
    public func encryptionPublicKey() throws(CryptoError) -> EncryptionPublicKey {
        guard keyType == EVP_PKEY_X25519, let raw = rawPublicKey() else {
            throw .invalidCertificate("\(subject) does not hold an X25519 key")
        }
        return try EncryptionPublicKey(rawRepresentation: raw)
    }

    /// The PEM text, for writing a certificate next to an exported envelope.
    public var pem: String {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n"
    }

    // MARK: - Reading fields

    static let centerURIPrefix = "iias:center:"

    /// Exactly one SAN URI `iias:center:ID` with a valid ID, and a subject CN that agrees.
    private static func centerID(_ x509: OpaquePointer) -> CenterID? {
        guard let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, nil, nil) else { return nil }
        let names = OpaquePointer(raw)
        defer { iias_GENERAL_NAMES_free(names) }
        var found: [String] = []
        for i in 0..<iias_sk_GENERAL_NAME_num(names) {
            guard let name = iias_sk_GENERAL_NAME_value(names, i), name.pointee.type == GEN_URI,
                  let uri = name.pointee.d.uniformResourceIdentifier else { continue }
            let text = asn1String(uri)
            if text.hasPrefix(centerURIPrefix) { found.append(String(text.dropFirst(centerURIPrefix.count))) }
        }
        guard found.count == 1, let id = CenterID(found[0]) else { return nil }
        return id
    }

    private static func asn1String(_ string: UnsafeMutablePointer<ASN1_STRING>) -> String {
        guard let data = ASN1_STRING_get0_data(string) else { return "" }
        let count = Int(ASN1_STRING_length(string))
        return String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    }

    private static func oneLine(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, iias_XN_FLAG_RFC2253()) >= 0 else { return "" }
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = iias_BIO_get_mem_data(bio, &data)
        guard length > 0, let data else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    private static func serialHex(_ x509: OpaquePointer) -> String {
        serialHex(X509_get0_serialNumber(x509))
    }

    /// An ASN.1 INTEGER as upper-case hex, as `openssl x509 -serial` and `openssl crl -text` show serials.
    static func serialHex(_ serial: UnsafePointer<ASN1_INTEGER>?) -> String {
        guard let serial, let bn = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "" }
        defer { CRYPTO_free(hex, #fileID, #line) }
        return String(cString: hex)
    }

    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let time else { return nil }
        var tm = tm()
        guard ASN1_TIME_to_tm(time, &tm) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&tm)))
    }
}

