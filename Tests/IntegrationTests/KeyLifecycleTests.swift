import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// The routine events of a node's years, with real processes and a PKI of the test's
/// own (a copy, so that re-signing its CRL or rotating its keys touches no other test):
/// history stays readable at every node and verifiable by an auditor throughout.
final class KeyLifecycleTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 300)
    }

    /// SIGHUP, and waits for the node to say it reloaded (its stderr, a condition with a deadline).
    private func reload(_ cluster: LocalCluster, _ center: String) async throws {
        let before = cluster.errorOutput(center).components(separatedBy: "reloaded the CA").count
        cluster.signal(center, SIGHUP)
        try await eventually("\(center) reloaded") { cluster.errorOutput(center).components(separatedBy: "reloaded the CA").count > before }
    }

    /// SIGHUP with something wrong on disk: the node says what and keeps the trust it had.
    private func refusedReload(_ cluster: LocalCluster, _ center: String, naming words: String) async throws {
        let marker = "the CA, CRL, certificates and peers were not"
        let before = cluster.errorOutput(center).components(separatedBy: marker).count
        cluster.signal(center, SIGHUP)
        try await eventually("\(center) refused the reload") { cluster.errorOutput(center).components(separatedBy: marker).count > before }
        let said = cluster.errorOutput(center).split(separator: "\n").last { $0.contains(marker) } ?? ""
        XCTAssertTrue(said.contains(words), "the refusal names \(words): \(said)")
    }

    private func deliveredToAll(_ cluster: LocalCluster, from center: String, _ id: UUID) async throws {
        try await eventually("\(center)'s \(id) delivered everywhere") {
            try await cluster.client(center).delivery(of: id).recipients.allSatisfy { $0.state == .delivered }
        }
    }

    func testACRLRefreshKeepsEveryInboxReadableAndEveryLogVerifiable() async throws {
        let pki = try TestPKI.shared.privateCopy("lifecycle-pki")
        let centers = ["AZ", "GE", "UA", "MD"]
        let cluster = try LocalCluster(centers, pki: pki, executable: RepositoryPaths.iiasExecutable)
        try cluster.startAll()
        var sent: [(String, UUID)] = []
        for center in centers {
            let others = centers.filter { $0 != center }
            let id = try await cluster.client(center).submit(NodeCluster.draft(to: others, subject: "Before the refresh from \(center)")).id
            sent.append((center, id))
        }
        for (center, id) in sent { try await deliveredToAll(cluster, from: center, id) }
        // The CRL is re-signed strictly after every entry so far (its thisUpdate is in whole seconds).
        let lastEntry = Date()
        try await eventually("a second boundary after the last entry", timeout: 5) { Date().timeIntervalSince(lastEntry) > 1.2 }
        try TestPKI.pki("crl", pki.root)
        for center in centers { try await reload(cluster, center) }

        for center in centers {
            let client = cluster.client(center)
            let inbox = try await client.inbox()
            XCTAssertEqual(inbox.count, centers.count - 1, "\(center) still lists everything it received")
            for item in inbox {
                let read = try await client.read(item.id)
                XCTAssertTrue(read.notification.subject.hasPrefix("Before the refresh"), "\(center) reads \(item.id)")
            }
            let outbox = try await client.outbox()
            XCTAssertTrue(outbox.allSatisfy { !$0.subject.contains("not recorded") }, "\(center)'s outbox summaries still read")
        }
        let after = try await cluster.client("MD").submit(NodeCluster.draft(to: ["AZ", "GE", "UA"], subject: "After the refresh")).id
        try await deliveredToAll(cluster, from: "MD", after)
        cluster.stopAll()

        for center in centers {
            let verify = try iias(["log", "verify", cluster.logDirectory(center), "--ca", pki.caFile, "--crl", pki.crlFile,
                                   "--certs", pki.centersDirectory])
            XCTAssertEqual(verify.status, 0, "\(center)'s log verifies against the newest CRL: \(verify.stdout)\(verify.stderr)")
            XCTAssertTrue(verify.stdout.contains("judged at:"), verify.stdout)
        }
    }

    /// Bad trust files on a SIGHUP — another CA's CRL, a broken one, a garbage certificate,
    /// another center's certificate in a center's folder, one key certified for two
    /// centers — are each refused with a reason; the running node keeps its previous trust,
    /// stays up and goes on exchanging.
    func testBadTrustFilesAreRefusedOnReloadAndTheNodeKeepsItsTrust() async throws {
        let pki = try TestPKI.shared.privateCopy("lifecycle-pki")
        let cluster = try LocalCluster(["AZ", "GE"], pki: pki, executable: RepositoryPaths.iiasExecutable)
        try cluster.startAll()
        let fm = FileManager.default
        let goodCRL = try Data(contentsOf: URL(fileURLWithPath: pki.crlFile))
        let geFolder = URL(fileURLWithPath: pki.centerDirectory("GE"))
        let stray = geFolder.appendingPathComponent("history/stray")
        try fm.createDirectory(at: stray, withIntermediateDirectories: true)
        let cases: [(String, () throws -> Void, () throws -> Void)] = [
            ("not a CRL signed by the root CA",
             { try fm.removeItem(atPath: pki.crlFile); try fm.copyItem(at: TestPKI.shared.foreignRoot.appendingPathComponent("crl.pem"), to: URL(fileURLWithPath: pki.crlFile)) },
             { try goodCRL.write(to: URL(fileURLWithPath: pki.crlFile)) }),
            ("is not a PEM CRL",
             { try Data("-----BEGIN X509 CRL-----\ngarbage\n-----END X509 CRL-----\n".utf8).write(to: URL(fileURLWithPath: pki.crlFile)) },
             { try goodCRL.write(to: URL(fileURLWithPath: pki.crlFile)) }),
            ("junk.crt is not a PEM certificate",
             { try Data("junk".utf8).write(to: stray.appendingPathComponent("junk.crt")) },
             { try fm.removeItem(at: stray.appendingPathComponent("junk.crt")) }),
            ("AZ's certificate in GE's folder",
             { try fm.copyItem(atPath: pki.centerDirectory("AZ") + "/signing.crt", toPath: stray.appendingPathComponent("signing.crt").path) },
             { try fm.removeItem(at: stray.appendingPathComponent("signing.crt")) }),
        ]
        for (number, (words, spoil, repair)) in cases.enumerated() {
            try spoil()
            try await refusedReload(cluster, "AZ", naming: words)
            XCTAssertTrue(cluster.isRunning("AZ"), "AZ is up after: \(words)")
            let id = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Still exchanging \(number)")).id
            try await deliveredToAll(cluster, from: "AZ", id)
            try repair()
        }
        try await reload(cluster, "AZ")
    }

    /// UA's signing key is revoked for key compromise with an invalidity date T between
    /// two of its notifications: live, GE refuses what UA signs after the CRL reached it,
    /// with a signed refusal naming the revocation; in an audit with that CRL, the entry
    /// GE logged before T passes and the one it logged after T fails, with the reason.
    func testACompromisedKeyIsRefusedLiveAndAuditedFromItsInvalidityDateOn() async throws {
        let pki = try TestPKI.shared.privateCopy("lifecycle-pki")
        let cluster = try LocalCluster(["UA", "GE"], pki: pki, executable: RepositoryPaths.iiasExecutable)
        try cluster.startAll()
        let ua = cluster.client("UA")
        let before = try await ua.submit(NodeCluster.draft(to: ["GE"], subject: "Before the compromise")).id
        try await deliveredToAll(cluster, from: "UA", before)
        // T, in whole seconds, strictly after the first entry and strictly before the second.
        var mark = Date()
        try await eventually("a second boundary", timeout: 5) { Date().timeIntervalSince(mark) > 1.2 }
        let invalidSince = Date()
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "UTC")
        format.dateFormat = "yyyyMMddHHmmss'Z'"
        mark = Date()
        try await eventually("a second boundary", timeout: 5) { Date().timeIntervalSince(mark) > 1.2 }
        let during = try await ua.submit(NodeCluster.draft(to: ["GE"], subject: "Signed with the stolen key, before the CRL")).id
        try await deliveredToAll(cluster, from: "UA", during)

        try TestPKI.pki("revoke", pki.root, "UA", "--keys", "signing", "--reason", "key-compromise",
                        "--invalid-since", format.string(from: invalidSince))
        try await reload(cluster, "GE")
        let after = try await ua.submit(NodeCluster.draft(to: ["GE"], subject: "Signed with the stolen key, after the CRL")).id
        try await eventually("GE refused it") { try await ua.delivery(of: after).recipients.first?.state == .refused }
        let answered = try await ua.delivery(of: after)
        let refusal = try XCTUnwrap(answered.recipients.first)
        XCTAssertEqual(refusal.reason, "untrusted-sender")
        XCTAssertTrue(refusal.detail?.contains("revoked (key-compromise)") ?? false, "the refusal names the revocation: \(refusal.detail ?? "")")
        let inbox = try await cluster.client("GE").inbox()
        XCTAssertEqual(Set(inbox.map(\.id)), [before, during], "the refused one is not in GE's inbox; what came before the CRL stays readable")
        for id in [before, during] { _ = try await cluster.client("GE").read(id) }
        cluster.stopAll()

        let audit = try iias(["log", "verify", cluster.logDirectory("GE"), "--ca", pki.caFile, "--crl", pki.crlFile,
                              "--certs", pki.centersDirectory, "--json"])
        XCTAssertEqual(audit.status, 1, "an entry logged after the invalidity date fails: \(audit.stderr)")
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [String: Any], audit.stdout)
        let problems = try XCTUnwrap(report["problems"] as? [[String: Any]])
        XCTAssertEqual(problems.count, 1, "only the entry logged after T: \(problems)")
        XCTAssertTrue((problems.first?["why"] as? String ?? "").contains("key-compromise"), "\(problems)")
        XCTAssertEqual(report["envelopesChecked"] as? Int, 1, "the entry logged before T passes")
    }
}
