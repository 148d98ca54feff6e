import Foundation

/// The two dates of a CRL: when it was issued (lastUpdate / thisUpdate) and when the
/// next one is due (nextUpdate). After nextUpdate, verifiers (OpenSSL for TLS, and
/// `TrustAnchor` for envelopes) treat the CRL as expired and refuse every certificate,
/// so an administrator must be warned well before (`RevocationList` reads them).
public struct CRLDates: Sendable, Equatable {
    public let lastUpdate: Date
    /// Nil for a CRL without nextUpdate (RFC 5280 requires it; OpenSSL's `ca` writes it).
    public let nextUpdate: Date?

    public init(lastUpdate: Date, nextUpdate: Date?) {
        self.lastUpdate = lastUpdate
        self.nextUpdate = nextUpdate
    }
}
