import Foundation
import IIASCrypto

/// Who is on the other end, after the handshake verified the chain and the CRL,
/// IIASCrypto checked the certificate is a TLS certificate, and the center id was allowed.
public struct PeerIdentity: Sendable, Equatable {
    /// The center id from the certificate's SAN URI `iias:center:ID`.
    public let centerID: String
    /// The certificate's notAfter.
    public let certificateExpiry: Date
    /// SHA-256 of the certificate's DER.
    public let fingerprint: [UInt8]
    /// The certificate subject (RFC 2253).
    public let subject: String
}

extension TLSConnection {
    /// Checks the peer after a completed handshake against `trust` (TLS key usage) and `allowed` ids (nil: any center).
    func verifiedPeer(trust: TrustAnchor, allowed: Set<String>?) throws(TLSError) -> PeerIdentity {
        let certificate = try peerCertificate()
        let center: String
        do { center = try trust.verify(certificate, for: .tls).rawValue } catch {
            throw TLSError.peerCertificateRejected("not a valid IIAS TLS certificate: \(error)")
        }
        if let allowed, !allowed.contains(center) { throw TLSError.unexpectedPeer(center) }
        return PeerIdentity(centerID: center, certificateExpiry: certificate.notAfter,
                            fingerprint: certificate.fingerprint, subject: certificate.subject)
    }
}
