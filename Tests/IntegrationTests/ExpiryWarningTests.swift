import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Certificates and a CRL made to run out soon (`pki.sh issue --not-after`, `pki.sh crl
/// --hours/--next-update`): `iias status`, `iias peers`, the metrics and the node's log
/// warn before; past the date, `iias send` says what expired and exits 1.
final class ExpiryWarningTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 60)
    }

    /// A UTC time `seconds` from now as pki.sh takes it.
    private func pkiTime(_ seconds: TimeInterval) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: Date().addingTimeInterval(seconds))
    }

    private func makePKI(_ label: String) throws -> PKILayout {
        let layout = PKILayout(root: try makeTemporaryDirectory(label).appendingPathComponent("pki").path)
        try TestPKI.pki("init-ca", layout.root)
        try TestPKI.pki("issue", layout.root, "AZ")
        return layout
    }

    func testCertificatesAndACRLThatRunOutSoonShowInStatusPeersMetricsAndTheLog() async throws {
        let pki = try makePKI("expiry-soon")
        try TestPKI.pki("issue", pki.root, "GE", "--not-after", pkiTime(9 * 86_400 + 3600))
        try TestPKI.pki("crl", pki.root, "--hours", "5")
        let metricsPort = try LocalCluster.freePort()
        let cluster = try LocalCluster(["AZ", "GE"], pki: pki, executable: RepositoryPaths.iiasExecutable)
        try cluster.writeConfiguration("AZ", pki: pki, peers: ["GE"], users: ["\(LocalCluster.currentUser)=operator"],
                                       extra: ["metrics": ["listen": "127.0.0.1:\(metricsPort)"]])
        try cluster.startAll()
        let az = ["--socket", cluster.socketPath("AZ")]
        try await eventually("GE connected") { try await cluster.client("AZ").peers().first?.state == .connected }

        let status = try iias(["status"] + az)
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("warning: GE's signing certificate"), status.stdout)
        XCTAssertTrue(status.stdout.contains("expires in 9 days"), status.stdout)
        XCTAssertTrue(status.stdout.contains("warning: the CRL's nextUpdate is in 4 hours"), status.stdout)
        XCTAssertTrue(status.stdout.contains("(4 h)"), status.stdout)
        XCTAssertFalse(status.stdout.contains("our signing certificate"), "AZ's own certificates run 825 days: \(status.stdout)")

        let peers = try iias(["peers"] + az)
        XCTAssertEqual(peers.status, 0, peers.stderr)
        let geRow = try XCTUnwrap(peers.stdout.split(separator: "\n").first { $0.hasPrefix("GE") })
        XCTAssertTrue(geRow.contains(" 9 d "), String(geRow))

        let json = try APIJSON.decoder().decode(NodeStatus.self, from: Data(try iias(["status", "--json"] + az).stdout.utf8))
        let expiry = try XCTUnwrap(json.expiry)
        XCTAssertEqual(expiry.crlHoursLeft, 4)
        XCTAssertEqual(expiry.certificates.filter { $0.center.rawValue == "GE" }.map(\.daysLeft), [9, 9])
        XCTAssertEqual(expiry.certificates.filter(\.own).map(\.purpose), ["signing", "encryption", "tls"])

        let metrics = try httpGet(port: metricsPort, path: "/metrics")
        let geSigning = try XCTUnwrap(metricValue(metrics, #"iias_certificate_expiry_seconds{center="GE",purpose="signing"}"#), metrics)
        XCTAssertTrue((9 * 86_400.0)...(9 * 86_400.0 + 3600) ~= geSigning, "\(geSigning)")
        let azTLS = try XCTUnwrap(metricValue(metrics, #"iias_certificate_expiry_seconds{center="AZ",purpose="tls"}"#), metrics)
        XCTAssertGreaterThan(azTLS, 800 * 86_400)
        let crl = try XCTUnwrap(metricValue(metrics, "iias_crl_next_update_seconds"), metrics)
        XCTAssertTrue((4 * 3600.0)...(5 * 3600.0) ~= crl, "\(crl)")

        let azLog = cluster.errorOutput("AZ"), geLog = cluster.errorOutput("GE")
        XCTAssertTrue(azLog.contains("expiry: GE's signing certificate") && azLog.contains("expiry: the CRL's nextUpdate is in 4 hours"), azLog)
        XCTAssertTrue(geLog.contains("expiry: our signing certificate"), geLog)
        // A fresh CRL and a SIGHUP: the CRL warning is gone from status.
        try TestPKI.pki("crl", pki.root, "--days", "30")
        cluster.signal("AZ", SIGHUP)
        try await eventually("the CRL warning cleared") { (try await cluster.client("AZ").status().expiry?.crlHoursLeft ?? 0) > 24 * 29 }
        XCTAssertFalse(try iias(["status"] + az).stdout.contains("the CRL's nextUpdate"))
    }

    func testPastExpirySendSaysWhatExpiredAndExits1() async throws {
        let pki = try makePKI("expiry-past")
        // GE's certificates and the CRL run out 30 s from now, after the nodes started.
        let deadline = Date().addingTimeInterval(30), until = pkiTime(30)
        try TestPKI.pki("issue", pki.root, "GE", "--not-after", until)
        try TestPKI.pki("crl", pki.root, "--next-update", until)
        let cluster = try LocalCluster(["AZ", "GE"], pki: pki, executable: RepositoryPaths.iiasExecutable)
        try cluster.startAll()
        let az = ["--socket", cluster.socketPath("AZ")]
        let before = try iias(["status"] + az)
        XCTAssertTrue(before.stdout.contains("warning: the CRL's nextUpdate is in 0 hours"), before.stdout)
        try await eventually("the dates passed", timeout: 60) { Date() > deadline.addingTimeInterval(1) }

        let sent = try iias(["send", "--to", "GE", "--category", "terrorism", "--subject", "after expiry", "--summary", "Too late."] + az)
        XCTAssertEqual(sent.status, 1, sent.stdout + sent.stderr)
        XCTAssertTrue(sent.stderr.contains("GE's encryption certificate expired"), sent.stderr)
        XCTAssertTrue(sent.stderr.contains("the CRL expired at its nextUpdate"), sent.stderr)
        XCTAssertFalse(sent.stderr.contains("try again later"), sent.stderr)
        let after = try iias(["status"] + az)
        XCTAssertTrue(after.stdout.contains("EXPIRED"), after.stdout)
        XCTAssertTrue(after.stdout.contains("expired"), after.stdout)
        let outbox = try await cluster.client("AZ").outbox()
        XCTAssertEqual(outbox.count, 0, "nothing was logged as sent")
    }
}
