import Foundation
import IIASAPI
import IIASCrypto
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Planned key rotation with real processes and `pki.sh rotate`, in a PKI of the test's
/// own: nothing in flight is lost or refused, what was sealed to a rotated key still
/// opens, and an auditor holding every certificate verifies every log and sees which
/// certificate signed what.
final class RotationTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 300)
    }

    private func serial(_ file: String) throws -> String { try Certificate(pemFile: file).serialNumber }

    func testRotatingMidTrafficLosesNothingAndEveryLogStillVerifies() async throws {
        let pki = try TestPKI.shared.privateCopy("rotation-pki")
        let cluster = try LocalCluster(["AZ", "GE"], pki: pki, executable: RepositoryPaths.iiasExecutable)
        // AZ seals version 2 (no key named): its envelopes are verified by trying each of its certificates.
        try cluster.writeConfiguration("AZ", pki: pki, peers: ["GE"], users: ["\(LocalCluster.currentUser)=operator"],
                                       extra: ["envelopeVersion": 2])
        let az = cluster.client("AZ"), ge = cluster.client("GE")

        // Sealed to GE's encryption key, then GE rotates before it arrives.
        try cluster.start("AZ")
        let sealedToOldKey = try await az.submit(NodeCluster.draft(to: ["GE"], subject: "Sealed to GE's old encryption key")).id
        try TestPKI.pki("rotate", pki.root, "GE", "--keys", "encryption")
        try cluster.start("GE")
        try await eventually("the one sealed to GE's old key delivered") {
            try await az.delivery(of: sealedToOldKey).recipients.first?.state == .delivered
        }
        let opened = try await ge.read(sealedToOldKey)
        XCTAssertEqual(opened.notification.subject, "Sealed to GE's old encryption key", "opens with GE's earlier key")

        // Traffic both ways while AZ rotates every key (GE is told first, then AZ), then GE
        // rotates every key (AZ is told first, then GE): the order of the SIGHUPs does not matter.
        let oldSigning = try serial(pki.centerDirectory("AZ") + "/signing.crt")
        var fromAZ: [UUID] = [], fromGE: [UUID] = []
        for n in 0..<40 {
            if n == 12 {
                try TestPKI.pki("rotate", pki.root, "AZ")
                cluster.signal("GE", SIGHUP)
            }
            if n == 18 { cluster.signal("AZ", SIGHUP) }
            if n == 26 {
                try TestPKI.pki("rotate", pki.root, "GE")
                cluster.signal("AZ", SIGHUP)
            }
            if n == 32 { cluster.signal("GE", SIGHUP) }
            fromAZ.append(try await az.submit(NodeCluster.draft(to: ["GE"], subject: "AZ \(n)")).id)
            fromGE.append(try await ge.submit(NodeCluster.draft(to: ["AZ"], subject: "GE \(n)")).id)
        }
        let newSigning = try serial(pki.centerDirectory("AZ") + "/signing.crt")
        XCTAssertNotEqual(oldSigning, newSigning)
        for (client, ids) in [(az, fromAZ), (ge, fromGE)] {
            var waiting: [String] = []
            try await eventually("every notification delivered, none refused; not yet: \(waiting)") {
                waiting = []
                for id in ids {
                    guard let recipient = try await client.delivery(of: id).recipients.first, recipient.state != .delivered else { continue }
                    waiting.append("\(recipient.state.rawValue) \(recipient.reason ?? "") \(recipient.detail ?? "")")
                }
                return waiting.isEmpty
            }
        }
        let outbox = try await az.outbox()
        XCTAssertEqual(outbox.filter { $0.subject.contains("not recorded") }.count, 0, "AZ's outbox summaries still read after its rotation")
        let geOutbox = try await ge.outbox()
        XCTAssertEqual(geOutbox.filter { $0.subject.contains("not recorded") }.count, 0, "GE's too, after two rotations of its encryption key")
        let inbox = try await az.inbox()
        XCTAssertEqual(Set(inbox.map(\.id)), Set(fromGE), "AZ reads everything GE sent, sealed to its old key or its new one")
        for id in fromGE.prefix(3) + fromGE.suffix(3) { _ = try await az.read(id) }
        cluster.stopAll()

        // The auditor: every certificate (history included) and the CRL.
        for center in ["AZ", "GE"] {
            let verify = try iias(["log", "verify", cluster.logDirectory(center), "--ca", pki.caFile, "--crl", pki.crlFile,
                                   "--certs", pki.centersDirectory])
            XCTAssertEqual(verify.status, 0, "\(center): \(verify.stdout)\(verify.stderr)")
            XCTAssertTrue(verify.stdout.contains("signed by AZ serial \(oldSigning)"), verify.stdout)
            XCTAssertTrue(verify.stdout.contains("signed by AZ serial \(newSigning)"), verify.stdout)
        }
        // `audit verify` names the certificate that signed an envelope, old or new.
        for (id, expected) in [(fromAZ.first!, oldSigning), (fromAZ.last!, newSigning)] {
            let file = try makeTemporaryDirectory("rotation-export").appendingPathComponent("envelope.iias").path
            let export = try iias(["log", "export", cluster.logDirectory("GE"), "--id", id.uuidString.lowercased(), "--out", file])
            XCTAssertEqual(export.status, 0, export.stderr)
            let audit = try iias(["audit", "verify", file, "--ca", pki.caFile, "--crl", pki.crlFile, "--certs", pki.centersDirectory, "--json"])
            XCTAssertEqual(audit.status, 0, audit.stdout + audit.stderr)
            let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any])
            XCTAssertEqual((report["signer"] as? [String: Any])?["serial"] as? String, expected, "the certificate that signed \(id)")
        }
        // Without AZ's history the old envelopes are not called forged: the auditor is told what is missing.
        let current = try makeTemporaryDirectory("rotation-current-only")
        for center in ["AZ", "GE"] {
            let folder = current.appendingPathComponent(center)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for purpose in ["signing", "encryption", "tls"] {
                try FileManager.default.copyItem(atPath: pki.centerDirectory(center) + "/\(purpose).crt", toPath: folder.appendingPathComponent("\(purpose).crt").path)
            }
        }
        let partial = try iias(["log", "verify", cluster.logDirectory("GE"), "--ca", pki.caFile, "--crl", pki.crlFile, "--certs", current.path])
        XCTAssertEqual(partial.status, 1)
        XCTAssertTrue(partial.stdout.contains("AZ") && !partial.stdout.contains("altered or not signed"), partial.stdout)
    }
}
