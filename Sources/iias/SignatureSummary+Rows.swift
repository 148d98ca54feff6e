import Foundation
import IIASAudit
import IIASCrypto

extension SignatureSummary {
    /// One row per signing certificate, by center and then first use: a line for people
    /// and an object for `--json`.
    var signerRows: [(text: String, json: [String: Any])] {
        signersInOrder.map { signer in
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
