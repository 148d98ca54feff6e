import Foundation
import IIASCrypto
import IIASModel
import IIASTestSupport

/// Notifications and keys the crypto tests share.
enum Samples {
    static func notification(from sender: String = "AZ", to recipients: [String] = ["GE", "UA", "MD"],
                             summaryBytes: Int = 600, id: UUID = UUID()) -> FormalNotification {
        let summary = String(repeating: "Movement of explosives along the pipeline corridor. ", count: max(1, summaryBytes / 52))
        let document: [String: Any] = [
            "version": FormalNotification.currentVersion,
            "id": id.uuidString.lowercased(),
            "sender": sender,
            "recipients": recipients,
            "created": "2026-11-22T21:05:09.120Z",
            "kind": "notification",
            "category": "terrorism",
            "priority": "flash",
            "handling": ["tlp": "TLP:AMBER", "codes": ["H2"]],
            "subject": "Planned attack on the Baku-Tbilisi-Ceyhan pipeline",
            "summary": String(summary.prefix(summaryBytes)),
            "entities": [["type": "person", "id": "p1", "name": "John Doe", "nationality": "GE"]],
        ]
        let data = try! JSONSerialization.data(withJSONObject: document)
        do {
            return try FormalNotification.parse(data)
        } catch {
            fatalError("sample notification invalid: \(error)")
        }
    }

    static let pki = TestPKI.shared

    static func keys(_ center: String) -> CenterKeys {
        try! CenterKeys(directory: pki.centerDirectory(center))
    }

    static let trust: TrustAnchor = try! TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
    static let directory: CertificateDirectory = try! CertificateDirectory(pki.centersDirectory)
    static let verifier = EnvelopeVerifier(trust: trust, certificates: directory)

    static func sealed(from sender: String = "AZ", to recipients: [String] = ["GE", "UA", "MD"],
                       summaryBytes: Int = 600) throws -> Envelope {
        let notification = notification(from: sender, to: recipients, summaryBytes: summaryBytes)
        let recipientKeys = try directory.encryptionKeys(for: recipients.map { CenterID($0)! }, trust: trust)
        return try Envelope.seal(notification, signer: keys(sender).signingKey, recipientKeys: recipientKeys)
    }
}
