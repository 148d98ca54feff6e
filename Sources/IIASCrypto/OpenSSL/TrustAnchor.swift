import COpenSSL
import Foundation
import IIASModel

/// The interstate root CA and its current CRL: the one thing every node and auditor
/// must agree on. `verify` answers "may this certificate speak for that center, for
/// that purpose, at that time?" with OpenSSL's chain check at that time, the CRL read
/// with RFC 5280 semantics (`RevocationList`: a revocation speaks from its date on, and a
/// CRL issued later is the right evidence about an earlier time), plus IIAS's own rules
/// (one key, one purpose; a center id in the SAN URI).
public final class TrustAnchor: @unchecked Sendable {
    // The store is built once and only read afterwards; OpenSSL locks it internally.
    private let store: OpaquePointer
    public let authority: Certificate
    /// Nil when the node was configured without revocation (`"crl": "none"`).
    public let revocationList: RevocationList?
    public var hasCRL: Bool { revocationList != nil }

    /// - Parameters:
    ///   - caFile: the root certificate (PEM).
    ///   - crlFile: the CA's CRL (PEM), which the CA must have signed. Without it,
    ///     revocation is not checked; with it, a CRL past its nextUpdate fails every
    ///     verification, so a stale CRL is noticed rather than silently trusted.
    public init(caFile: String, crlFile: String? = nil) throws(CryptoError) {
        let ca = try Certificate(pemFile: caFile)
        guard ca.isCA else { throw .invalidCertificate("\(caFile) is not a CA certificate") }
        revocationList = try crlFile.map { path throws(CryptoError) in try RevocationList(pemFile: path, authority: ca) }
        guard let store = X509_STORE_new() else { throw .invalidCertificate(OpenSSLErrors.describe("out of memory")) }
        guard X509_STORE_add_cert(store, ca.x509) == 1 else {
            X509_STORE_free(store)
            throw .invalidCertificate(OpenSSLErrors.describe("cannot load the CA into a trust store"))
        }
        self.store = store
        authority = ca
    }

    deinit { X509_STORE_free(store) }

    /// Verifies the chain to the root and the validity period at `time`, revocation at
    /// `time` by the CRL (which must be current at `now`), and that the certificate fits
    /// `purpose`; returns the center it speaks for.
    @discardableResult
    public func verify(_ certificate: Certificate, for purpose: KeyPurpose, at time: Date = Date(), now: Date = Date()) throws(CryptoError) -> CenterID {
        let center = try verifyChain(certificate, for: purpose, at: time)
        if let revocationList {
            try revocationList.checkCurrent(at: now)
            if let nextUpdate = revocationList.nextUpdate, time > nextUpdate {
                throw .invalidCertificate("the CRL (next update \(ISO8601DateFormatter().string(from: nextUpdate))) says nothing about "
                    + "\(ISO8601DateFormatter().string(from: time)), a later time")
            }
            if let revocation = revocationList.revocation(of: certificate, at: time) {
                throw .invalidCertificate("\(purpose.rawValue) certificate \(certificate.subject) (serial \(certificate.serialNumber)): "
                    + "\(revocation.description) (the CA revoked it; its holder must be issued new keys)")
            }
        }
        return center
    }

    /// Verifies, then requires the certificate to belong to `center`.
    public func verify(_ certificate: Certificate, for purpose: KeyPurpose, of center: CenterID, at time: Date = Date()) throws(CryptoError) {
        try require(try verify(certificate, for: purpose, at: time), is: center, certificate, purpose)
    }

    /// Only that this CA issued the certificate for `purpose` and `center`, whatever the
    /// time and the CRL: for what was verified in full when it was logged and is only
    /// read back now (an envelope in our own log), where today's CRL and today's date say
    /// nothing about the time it was accepted.
    public func verifyIssued(_ certificate: Certificate, for purpose: KeyPurpose, of center: CenterID) throws(CryptoError) {
        try require(try verifyChain(certificate, for: purpose, at: nil), is: center, certificate, purpose)
    }

    private func require(_ actual: CenterID, is center: CenterID, _ certificate: Certificate, _ purpose: KeyPurpose) throws(CryptoError) {
        guard actual == center else {
            throw .invalidCertificate("the \(purpose.rawValue) certificate belongs to center \(actual), not \(center)")
        }
    }

    /// OpenSSL's chain walk at `time` (nil: no time checks), then purpose and center id.
    private func verifyChain(_ certificate: Certificate, for purpose: KeyPurpose, at time: Date?) throws(CryptoError) -> CenterID {
        let what = "\(purpose.rawValue) certificate \(certificate.subject)"
        guard let ctx = X509_STORE_CTX_new() else { throw .invalidCertificate("out of memory") }
        defer { X509_STORE_CTX_free(ctx) }
        guard X509_STORE_CTX_init(ctx, store, certificate.x509, nil) == 1 else {
            throw .invalidCertificate(OpenSSLErrors.describe("cannot start verifying \(what)"))
        }
        if let time {
            X509_STORE_CTX_set_time(ctx, 0, time_t(time.timeIntervalSince1970.rounded(.down)))
        } else {
            X509_STORE_CTX_set_flags(ctx, UInt(X509_V_FLAG_NO_CHECK_TIME))
        }
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
        case .witness:
            guard cert.keyType == EVP_PKEY_ED25519 else { throw .invalidCertificate("\(what) must hold an Ed25519 key") }
            try require(UInt32(KU_DIGITAL_SIGNATURE), "digitalSignature")
            // One key, one purpose: a signing or TLS certificate is not a witness's.
            guard usage & UInt32(KU_NON_REPUDIATION) == 0, cert.extendedKeyUsage == nil else {
                throw .invalidCertificate("\(what) has the wrong key usage: witness needs digitalSignature alone, without nonRepudiation or extendedKeyUsage")
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
