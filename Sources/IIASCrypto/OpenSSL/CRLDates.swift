import COpenSSL
import Foundation

/// The two dates of a CRL file: when it was issued (lastUpdate / thisUpdate) and when
/// the next one is due (nextUpdate). After nextUpdate, verifiers (OpenSSL, and so the
/// node for TLS and envelopes) treat the CRL as expired and refuse every certificate,
/// so an administrator must be warned well before; this reads the dates for that,
/// without building a trust store.
public struct CRLDates: Sendable, Equatable {
    public let lastUpdate: Date
    /// Nil for a CRL without nextUpdate (RFC 5280 requires it; OpenSSL's `ca` writes it).
    public let nextUpdate: Date?

    public init(lastUpdate: Date, nextUpdate: Date?) {
        self.lastUpdate = lastUpdate
        self.nextUpdate = nextUpdate
    }

    /// Reads the first CRL in a PEM file.
    public init(crlFile path: String) throws(CryptoError) {
        let pem = try FileBytes.read(path, limit: 64 * 1024 * 1024, what: "CRL")
        let crl: OpaquePointer? = pem.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509_CRL(bio, nil, nil, nil)
        }
        guard let crl else { throw .invalidCertificate(OpenSSLErrors.describe("\(path) is not a PEM CRL")) }
        defer { X509_CRL_free(crl) }
        guard let last = Certificate.date(X509_CRL_get0_lastUpdate(crl)) else {
            throw .invalidCertificate("\(path): the CRL's lastUpdate cannot be read")
        }
        lastUpdate = last
        nextUpdate = Certificate.date(X509_CRL_get0_nextUpdate(crl))
    }
}
