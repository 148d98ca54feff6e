import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import XCTest

/// A proof of delivery bounds, by the witnesses' clocks, when the envelope existed; with the
/// CA, a CRL and the centers' certificates `iias audit check-proof` judges the sender's
/// signature at that time, with real processes: AZ's key revoked for a compromise after that
/// time leaves the proof standing; one whose invalidity date is before it fails the check.
final class ProvenSigningTimeTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 60)
    }

    private static func cliTime(_ date: Date) -> String {
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "UTC")
        format.dateFormat = "yyyyMMddHHmmss'Z'"
        return format.string(from: date)
    }

    func testTheSendersSignatureIsJudgedAtTheTimeTheWitnessesBound() async throws {
        let cluster = try NodeCluster(["AZ", "GE", "UA"], extra: ["treeHeadIntervalSeconds": 1])
        try cluster.startAll()
        defer { cluster.stopAll() }
        let folder = try makeTemporaryDirectory("proven-signing").path
        let sent = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Signed before the compromise"))
        let bundle = folder + "/GE.tlog-proof", envelope = folder + "/envelope", policy = folder + "/policy.txt"
        try await eventually("GE's proof reached AZ", timeout: 120) {
            try self.iias(["outbox", sent.id.uuidString, "--proof", "GE", "--out", bundle, "--socket", cluster.socketPath("AZ")]).status == 0
        }
        let log = try LogStore(directory: cluster.logDirectory("AZ"), readOnly: true)
        let payload = try (0..<log.count).lazy.map { try log.entry(at: $0) }.first { $0.type == .sent && (try? Envelope(parsing: $0.payload))?.id == sent.id }
        log.close()
        try Data(try XCTUnwrap(payload).payload).write(to: URL(fileURLWithPath: envelope))
        XCTAssertEqual(try ProcessRunner.run(RepositoryPaths.script("pki.sh"), ["-q", "policy", TestPKI.shared.root.path, "--quorum", "2", "--out", policy],
                                             timeout: 60).status, 0)
        let shared = TestPKI.shared
        let judged = try iias(["audit", "check-proof", bundle, "--policy", policy, "--envelope", envelope,
                               "--ca", shared.caFile, "--crl", shared.crlFile, "--certs", shared.centersDirectory, "--json"])
        XCTAssertEqual(judged.status, 0, judged.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(judged.stdout.utf8)) as? [String: Any])
        let signature = try XCTUnwrap(report["senderSignature"] as? [String: Any], judged.stdout)
        XCTAssertEqual(signature["sender"] as? String, "AZ")
        let bound = try XCTUnwrap((report["loggedNoLaterThan"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
        XCTAssertEqual(signature["validAt"] as? String, report["loggedNoLaterThan"] as? String)

        // AZ's signing key revoked for a compromise from a second after the witnessed bound:
        // the proof still shows AZ signed while its key was valid.
        try await eventually("the clock passed the bound", timeout: 10) { Date().timeIntervalSince(bound) > 2 }
        let later = try TestPKI.shared.privateCopy("revoked-later")
        try TestPKI.pki("revoke", later.root, "AZ", "--keys", "signing", "--reason", "key-compromise", "--invalid-since", Self.cliTime(bound + 1))
        let stands = try iias(["audit", "check-proof", bundle, "--policy", policy, "--envelope", envelope,
                               "--ca", later.caFile, "--crl", later.crlFile, "--certs", later.centersDirectory])
        XCTAssertEqual(stands.status, 0, stands.stderr)
        XCTAssertTrue(stands.stdout.contains("sender: AZ's signature verifies") && stands.stdout.contains("whatever became of the key since"), stands.stdout)

        // Invalid from before the bound: the proof cannot show the envelope was signed in time.
        let earlier = try TestPKI.shared.privateCopy("revoked-earlier")
        try TestPKI.pki("revoke", earlier.root, "AZ", "--keys", "signing", "--reason", "key-compromise", "--invalid-since", Self.cliTime(bound - 3600))
        let fails = try iias(["audit", "check-proof", bundle, "--policy", policy, "--envelope", envelope,
                              "--ca", earlier.caFile, "--crl", earlier.crlFile, "--certs", earlier.centersDirectory])
        XCTAssertEqual(fails.status, 1, fails.stdout)
        XCTAssertTrue(fails.stderr.contains("does not hold at") && fails.stderr.contains("revoked"), fails.stderr)
        let inclusionAlone = try iias(["audit", "check-proof", bundle, "--policy", policy, "--envelope", envelope])
        XCTAssertEqual(inclusionAlone.status, 0, "without the CA the inclusion alone is checked, as before")

        // Half the trust options, or trust options without the envelope: a usage error.
        for arguments in [["--ca", shared.caFile], ["--envelope", envelope, "--ca", shared.caFile], ["--envelope", envelope, "--certs", shared.centersDirectory]] {
            let usage = try iias(["audit", "check-proof", bundle, "--policy", policy] + arguments)
            XCTAssertEqual(usage.status, 2, "\(arguments): \(usage.stderr)")
        }
        // Another envelope than the proven one: refused before any signature is judged.
        try Data("not an envelope".utf8).write(to: URL(fileURLWithPath: folder + "/other"))
        let other = try iias(["audit", "check-proof", bundle, "--policy", policy, "--envelope", folder + "/other",
                              "--ca", shared.caFile, "--crl", shared.crlFile, "--certs", shared.centersDirectory])
        XCTAssertEqual(other.status, 1, other.stdout)
    }
}
