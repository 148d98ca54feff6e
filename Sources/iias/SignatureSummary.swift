import Foundation
import IIASCrypto
import IIASModel

/// What a log's signature check found: counts, and which certificate signed what — so an
/// auditor sees that history signed with a rotated key verified with that key, and which
/// signers the CA revoked after the entries they signed (those entries pass: a revocation
/// speaks from its date on).
struct SignatureSummary {
    var treeHeads = 0
    var envelopes = 0
    var newestTreeHeadSize: UInt64?
    /// By certificate fingerprint.
    private var signers: [[UInt8]: Signer] = [:]

    struct Signer {
        var center: CenterID
        var certificate: Certificate
        var entries = 0
        var first: Date
        var last: Date
        /// The CA revoked this certificate with effect after every entry it signed here.
        var revokedLater: RevocationList.Revocation?
    }

    mutating func noteSigner(_ certificate: Certificate, of center: CenterID, at time: Date, trust: TrustAnchor) {
        if signers[certificate.fingerprint] == nil {
            signers[certificate.fingerprint] = Signer(center: center, certificate: certificate, first: time, last: time,
                                                      revokedLater: trust.revocationList?.revocations[certificate.serialNumber])
        }
        signers[certificate.fingerprint]!.entries += 1
        signers[certificate.fingerprint]!.first = min(signers[certificate.fingerprint]!.first, time)
        signers[certificate.fingerprint]!.last = max(signers[certificate.fingerprint]!.last, time)
    }

    mutating func merge(_ other: SignatureSummary) {
        for (key, signer) in other.signers {
            guard var mine = signers[key] else { signers[key] = signer; continue }
            mine.entries += signer.entries
            mine.first = min(mine.first, signer.first)
            mine.last = max(mine.last, signer.last)
            signers[key] = mine
        }
    }

    /// One row per signing certificate, by center and then first use.
    var signerRows: [(text: String, json: [String: Any])] {
        signers.values.sorted { ($0.center.rawValue, $0.first) < ($1.center.rawValue, $1.first) }.map { signer in
            let format = ISO8601DateFormatter()
            let certificate = signer.certificate
            var json: [String: Any] = [
                "center": signer.center.rawValue, "serial": certificate.serialNumber,
                "sha256Fingerprint": certificate.fingerprint.hexString, "entries": signer.entries,
                "first": format.string(from: signer.first), "last": format.string(from: signer.last),
            ]
            var text = "signed by \(signer.center) serial \(certificate.serialNumber): \(signer.entries) entries, "
                + "\(format.string(from: signer.first)) to \(format.string(from: signer.last))"
            if let revocation = signer.revokedLater {
                json["revokedLater"] = ["reason": revocation.reason?.description ?? "unspecified",
                                        "effective": format.string(from: revocation.effective)]
                text += "; \(revocation.description), after these entries"
            }
            return (text, json)
        }
    }
}
