import COpenSSL
import Foundation
import IIASModel

/// The interstate root CA and its current CRL: the one thing every node and auditor
/// must agree on. `verify` answers "may this certificate speak for that center, for
/// that purpose, at that time?" with OpenSSL's chain and CRL checks plus IIAS's own
/// rules (one key, one purpose; a center id in the SAN URI).
public final class TrustAnchor: @unchecked Sendable {
    // The store is built once and only read afterwards; OpenSSL locks it internally.
    private let store: OpaquePointer
    public let authority: Certificate
    public let hasCRL: Bool

    /// - Parameters:
    ///   - caFile: the root certificate (PEM).
    ///   - crlFile: the CA's CRL (PEM). Without it, revocation is not checked; with it,
    ///     an expired or wrongly signed CRL fails every verification, so a stale CRL is
    ///     noticed rather than silently trusted.
    public init(caFile: String, crlFile: String? = nil) throws(CryptoError) {
        let ca = try Certificate(pemFile: caFile)
        guard ca.isCA else { throw .invalidCertificate("\(caFile) is not a CA certificate") }
        var crl: OpaquePointer? = nil
        if let crlFile {
            let pem = try FileBytes.read(crlFile, limit: 64 * 1024 * 1024, what: "CRL")
            crl = pem.withUnsafeBytes { buffer in
                guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
                defer { BIO_free(bio) }
                return PEM_read_bio_X509_CRL(bio, nil, nil, nil)
            }
            guard crl != nil else { throw .invalidCertificate(OpenSSLErrors.describe("\(crlFile) is not a PEM CRL")) }
        }
        defer { if let crl { X509_CRL_free(crl) } }
        guard let store = X509_STORE_new() else { throw .invalidCertificate(OpenSSLErrors.describe("out of memory")) }
        guard X509_STORE_add_cert(store, ca.x509) == 1, crl.map({ X509_STORE_add_crl(store, $0) == 1 }) ?? true else {
            X509_STORE_free(store)
            throw .invalidCertificate(OpenSSLErrors.describe("cannot load the CA into a trust store"))
        }
        if crl != nil { X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK)) }
        self.store = store
        authority = ca
        hasCRL = crl != nil
    }

    deinit { X509_STORE_free(store) }

    /// Verifies the chain to the root (and the CRL), the validity period at `time`,
    /// and that the certificate fits `purpose`; returns the center it speaks for.
    @discardableResult
    public func verify(_ certificate: Certificate, for purpose: KeyPurpose, at time: Date = Date()) throws(CryptoError) -> CenterID {
        let what = "\(purpose.rawValue) certificate \(certificate.subject)"
        guard let ctx = X509_STORE_CTX_new() else { throw .invalidCertificate("out of memory") }
        defer { X509_STORE_CTX_free(ctx) }
        guard X509_STORE_CTX_init(ctx, store, certificate.x509, nil) == 1 else {
            throw .invalidCertificate(OpenSSLErrors.describe("cannot start verifying \(what)"))
        }
        X509_STORE_CTX_set_time(ctx, 0, time_t(time.timeIntervalSince1970.rounded(.down)))
        if X509_verify_cert(ctx) != 1 {
            let code = X509_STORE_CTX_get_error(ctx)
            OpenSSLErrors.drain().forEach { _ in }
            let reason = String(cString: X509_verify_cert_error_string(Int(code)))
            throw .invalidCertificate("\(what): \(reason)\(Self.hint(code))")
        }
        try checkPurpose(certificate, purpose, what: what)
        guard let center = certificate.centerID else {
            throw .invalidCertificate("\(what) names no center (expected one SAN URI iias:center:ID)")
        }
        return center
    }

    /// Verifies, then requires the certificate to belong to `center`.
    public func verify(_ certificate: Certificate, for purpose: KeyPurpose, of center: CenterID, at time: Date = Date()) throws(CryptoError) {
        let actual = try verify(certificate, for: purpose, at: time)
        guard actual == center else {
            throw .invalidCertificate("the \(purpose.rawValue) certificate belongs to center \(actual), not \(center)")
        }
    }

    private func checkPurpose(_ cert: Certificate, _ purpose: KeyPurpose, what: String) throws(CryptoError) {
        guard !cert.isCA else { throw .invalidCertificate("\(what) is a CA certificate, not a center's") }
        let usage = cert.keyUsage ?? 0
        func require(_ bits: UInt32, _ names: String) throws(CryptoError) {
            guard usage & bits == bits else {
                throw .invalidCertificate("\(what) has the wrong key usage: \(purpose.rawValue) needs \(names)")
            }
        }
        switch purpose {
        case .signing:
            guard cert.keyType == EVP_PKEY_ED25519 else { throw .invalidCertificate("\(what) must hold an Ed25519 key") }
            try require(UInt32(KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION), "digitalSignature and nonRepudiation")
        case .encryption:
            guard cert.keyType == EVP_PKEY_X25519 else { throw .invalidCertificate("\(what) must hold an X25519 key") }
            try require(UInt32(KU_KEY_AGREEMENT), "keyAgreement")
        case .tls:
            guard cert.keyType == EVP_PKEY_ED25519 || cert.keyType == EVP_PKEY_EC else {
                throw .invalidCertificate("\(what) must hold an Ed25519 or P-256 key")
            }
            try require(UInt32(KU_DIGITAL_SIGNATURE), "digitalSignature")
            let both = UInt32(XKU_SSL_SERVER | XKU_SSL_CLIENT)
            guard let eku = cert.extendedKeyUsage, eku & both == both else {
                throw .invalidCertificate("\(what) has the wrong extended key usage: tls needs serverAuth and clientAuth")
            }
        }
    }

    private static func hint(_ code: Int32) -> String {
        switch code {
        case X509_V_ERR_CERT_REVOKED: return " (the CA revoked it; its holder must be issued new keys)"
        case X509_V_ERR_CERT_HAS_EXPIRED: return " (ask the CA to issue a new one)"
        case X509_V_ERR_CRL_HAS_EXPIRED: return " (the CRL is out of date: fetch a fresh one from the CA)"
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
             X509_V_ERR_CERT_SIGNATURE_FAILURE:
            return " (it was not issued by this root CA)"
        default: return ""
        }
    }
}
