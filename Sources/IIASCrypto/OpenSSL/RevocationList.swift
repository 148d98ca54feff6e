import COpenSSL
import Foundation

/// The CA's certificate revocation list, read once and checked against the CA, with the
/// RFC 5280 meaning of each entry: a revocation speaks about the time from its date on
/// (the invalidityDate when the CA wrote one, RFC 5280 §5.3.2, else the revocationDate),
/// never about the time before. OpenSSL's own CRL check treats a listed certificate as
/// revoked at every time asked and refuses a CRL issued after that time, which would make
/// every envelope logged before a routine CRL refresh or a revocation look forged; so IIAS
/// checks the chain with OpenSSL and revocation here.
public struct RevocationList: Sendable {
    /// RFC 5280 §5.3.1 CRLReason, with the names `pki.sh revoke --reason` takes.
    public enum Reason: Int, Sendable, CustomStringConvertible {
        case unspecified = 0, keyCompromise = 1, caCompromise = 2, affiliationChanged = 3, superseded = 4
        case cessationOfOperation = 5, certificateHold = 6, removeFromCRL = 8, privilegeWithdrawn = 9, aaCompromise = 10

        public var description: String {
            switch self {
            case .unspecified: "unspecified"
            case .keyCompromise: "key-compromise"
            case .caCompromise: "ca-compromise"
            case .affiliationChanged: "affiliation-changed"
            case .superseded: "superseded"
            case .cessationOfOperation: "cessation-of-operation"
            case .certificateHold: "certificate-hold"
            case .removeFromCRL: "remove-from-crl"
            case .privilegeWithdrawn: "privilege-withdrawn"
            case .aaCompromise: "aa-compromise"
            }
        }
    }

    /// One revoked certificate.
    public struct Revocation: Sendable, Equatable {
        /// Upper-case hex, as `Certificate.serialNumber`.
        public var serial: String
        /// When the CA revoked it.
        public var revoked: Date
        public var reason: Reason?
        /// When the key is known or suspected to have been compromised (or the certificate
        /// otherwise became invalid); usually before `revoked`.
        public var invalidSince: Date?

        /// From this time on the certificate does not speak for its holder.
        public var effective: Date { invalidSince ?? revoked }

        public var description: String {
            let format = ISO8601DateFormatter()
            return "revoked (\(reason?.description ?? "no reason given")) with effect from \(format.string(from: effective))"
                + (invalidSince != nil ? " (invalidity date; revoked \(format.string(from: revoked)))" : "")
        }
    }

    public let thisUpdate: Date
    public let nextUpdate: Date?
    /// By serial (upper-case hex).
    public let revocations: [String: Revocation]

    /// Reads a PEM CRL and checks that `authority` signed it.
    public init(pemFile path: String, authority: Certificate) throws(CryptoError) {
        let pem = try FileBytes.read(path, limit: 64 * 1024 * 1024, what: "CRL")
        let parsed: OpaquePointer? = pem.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509_CRL(bio, nil, nil, nil)
        }
        guard let crl = parsed else {
            _ = OpenSSLErrors.drain()
            throw .invalidCertificate("\(path) is not a PEM CRL (expected -----BEGIN X509 CRL-----)")
        }
        defer { X509_CRL_free(crl) }
        guard X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(authority.x509)) == 0,
              let key = X509_get0_pubkey(authority.x509), X509_CRL_verify(crl, key) == 1 else {
            _ = OpenSSLErrors.drain()
            throw .invalidCertificate("\(path) is not a CRL signed by the root CA \(authority.subject): fetch the CRL this CA published")
        }
        guard let thisUpdate = Certificate.date(X509_CRL_get0_lastUpdate(crl)) else {
            throw .invalidCertificate("\(path) has no readable thisUpdate time")
        }
        self.thisUpdate = thisUpdate
        nextUpdate = Certificate.date(X509_CRL_get0_nextUpdate(crl))
        var revocations: [String: Revocation] = [:]
        if let list = X509_CRL_get_REVOKED(crl) {
            for i in 0..<iias_sk_X509_REVOKED_num(list) {
                guard let entry = iias_sk_X509_REVOKED_value(list, i) else { continue }
                let serial = Certificate.serialHex(X509_REVOKED_get0_serialNumber(entry))
                guard !serial.isEmpty, let revoked = Certificate.date(X509_REVOKED_get0_revocationDate(entry)) else {
                    throw .invalidCertificate("\(path): revoked entry \(i) has no readable serial or date")
                }
                revocations[serial] = Revocation(serial: serial, revoked: revoked, reason: Self.reason(entry),
                                                 invalidSince: Self.invalidityDate(entry))
            }
        }
        self.revocations = revocations
    }

    /// The revocation of `certificate` in force at `time`, if any (the CRL lists only
    /// certificates of its issuer, which the chain check establishes).
    public func revocation(of certificate: Certificate, at time: Date) -> Revocation? {
        guard let entry = revocations[certificate.serialNumber], time >= entry.effective else { return nil }
        return entry
    }

    /// Whether the list may be relied on at `now`: issued (allowing `tolerance` for clock
    /// skew) and not past its nextUpdate. A stale CRL is noticed, not silently trusted.
    public func checkCurrent(at now: Date, tolerance: TimeInterval = 300) throws(CryptoError) {
        let format = ISO8601DateFormatter()
        guard thisUpdate.timeIntervalSince(now) <= tolerance else {
            throw .invalidCertificate("the CRL is not yet valid (issued \(format.string(from: thisUpdate))): check this machine's clock")
        }
        if let nextUpdate, nextUpdate < now {
            throw .invalidCertificate("the CRL expired at \(format.string(from: nextUpdate)): fetch a fresh one from the CA (Scripts/pki.sh crl), then reload")
        }
    }

    private static func reason(_ entry: OpaquePointer) -> Reason? {
        guard let raw = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nil, nil) else { return nil }
        let enumerated = raw.assumingMemoryBound(to: ASN1_ENUMERATED.self)
        defer { ASN1_ENUMERATED_free(enumerated) }
        return Reason(rawValue: ASN1_ENUMERATED_get(enumerated))
    }

    private static func invalidityDate(_ entry: OpaquePointer) -> Date? {
        guard let raw = X509_REVOKED_get_ext_d2i(entry, NID_invalidity_date, nil, nil) else { return nil }
        let time = raw.assumingMemoryBound(to: ASN1_GENERALIZEDTIME.self)
        defer { ASN1_GENERALIZEDTIME_free(time) }
        return Certificate.date(UnsafePointer(time))
    }
}
