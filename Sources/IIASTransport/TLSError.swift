/// Why a TLS context or connection failed. OpenSSL's own reasons are kept (never key material).
public enum TLSError: Error, Sendable, Equatable {
    /// An OpenSSL call failed; `reasons` are the drained ERR_get_error strings, oldest first.
    case openSSL(operation: String, reasons: [String])
    /// The peer finished the handshake without presenting a certificate.
    case peerCertificateMissing
    /// The peer's certificate did not verify against the CA and CRL; OpenSSL's verify reason.
    case peerCertificateRejected(String)
    /// The peer's certificate names no IIAS center (no SAN URI iias:center:ID).
    case peerHasNoCenterID
    /// The peer is a valid center but not the one expected / not in the allowed set.
    case unexpectedPeer(String)
    /// The handshake did not finish within the handler's `handshakeTimeout` (a silent or stalled peer).
    case handshakeTimedOut
    /// Our own TLS private key could not be loaded (missing, readable by others, wrong
    /// passphrase, not matching); the text names the file, never key material.
    case privateKey(String)
}

extension TLSError: CustomStringConvertible {
    /// One line for people (operators' terminals, logs); never key material.
    public var description: String {
        switch self {
        case .openSSL(let operation, let reasons):
            reasons.isEmpty ? "OpenSSL \(operation) failed" : "OpenSSL \(operation) failed: \(reasons.joined(separator: "; "))"
        case .peerCertificateMissing: "the peer presented no certificate"
        case .peerCertificateRejected(let reason): "the peer's certificate was rejected: \(reason)"
        case .peerHasNoCenterID: "the peer's certificate names no IIAS center"
        case .unexpectedPeer(let center): "the peer is center \(center), not the one expected"
        case .handshakeTimedOut: "the TLS handshake did not finish in time"
        case .privateKey(let why): why
        }
    }
}

import COpenSSL

/// Drains OpenSSL's thread-local error queue into readable reason strings.
func drainOpenSSLErrors() -> [String] {
    var reasons: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return reasons
}

func openSSLFailure(_ operation: String) -> TLSError {
    .openSSL(operation: operation, reasons: drainOpenSSLErrors())
}
