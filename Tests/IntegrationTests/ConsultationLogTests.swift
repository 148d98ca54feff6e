import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Every consultation in the signed log, with real processes: two OS users (root and
/// nobody, told apart by SO_PEERCRED) read one notification, an inbox listing, an event
/// subscription and an outbox listing each leave an entry, and an auditor finds them
/// offline with `iias log entries` while `iias log verify` still passes.
final class ConsultationLogTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 60)
    }

    /// `iias log entries DIR ARGS --json`, decoded; fails the test when it exits non-zero.
    private func entries(_ dir: String, _ arguments: [String]) throws -> [LogEntrySummary] {
        let listed = try iias(["log", "entries", dir, "--json"] + arguments)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        return try listed.stdout.split(separator: "\n").map { try APIJSON.decoder().decode(LogEntrySummary.self, from: Data($0.utf8)) }
    }

    func testTwoUsersReadingOneNotificationAListingAndASubscriptionAreEachLogged() async throws {
        guard getuid() == 0 else { throw XCTSkip("acting as another uid needs root (the tests run as root in CI)") }
        guard let nobody = getpwnam("nobody")?.pointee, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
              let group = getgrgid(nobody.pw_gid)?.pointee.gr_name else {
            throw XCTSkip("needs the nobody account and /usr/bin/setpriv (util-linux)")
        }
        let me = LocalCluster.currentUser
        let cluster = try NodeCluster(["AZ", "GE"], users: ["\(me)=operator", "nobody=operator"])
        func allowOnGE(_ users: [String]) throws {
            var config = try JSONSerialization.jsonObject(with: Data(contentsOf: cluster.configURL("GE"))) as! [String: Any]
            config["api"] = ["socket": cluster.socketPath("GE"), "group": String(cString: group), "users": users]
            try JSONSerialization.data(withJSONObject: config).write(to: cluster.configURL("GE"))
        }
        try allowOnGE(["\(me)=operator", "nobody=operator"])
        chmod(cluster.folder.path, 0o755)
        try cluster.startAll()
        let az = cluster.client("AZ"), ge = cluster.client("GE")
        let sent = try await az.submit(NodeCluster.draft(to: ["GE"], subject: "Consulted twice"))
        try await eventually("in GE's inbox") { try await ge.status().inbox == 1 }

        // root reads it twice, nobody once: three entries, and it stays read.
        _ = try await ge.read(sent.id)
        _ = try await ge.read(sent.id)
        let asNobody = try ProcessRunner.run("/usr/bin/setpriv", ["--reuid=\(nobody.pw_uid)", "--regid=\(nobody.pw_gid)", "--clear-groups",
                                                                  RepositoryPaths.iiasExecutable, "read", sent.id.uuidString, "--socket",
                                                                  cluster.socketPath("GE")], timeout: 60)
        XCTAssertEqual(asNobody.status, 0, asNobody.stderr)
        XCTAssertTrue(asNobody.stdout.contains("Consulted twice"), asNobody.stdout)
        let listed = try await ge.inbox(InboxFilter(limit: 10))
        XCTAssertEqual(listed.map(\.read), [true], "a repeated read does not unsettle the read flag")
        let stream = try await ge.events(EventFilter(kinds: [.received]))
        defer { _ = stream }
        _ = try await az.outbox()

        let geLog = cluster.logDirectory("GE"), named = "AZ/\(sent.id.uuidString.uppercased())"
        let reads = try entries(geLog, ["--type", "read"])
        XCTAssertEqual(reads.map(\.user), [me, me, "nobody"], "every read, by whom")
        XCTAssertEqual(reads.map(\.uid), [0, 0, nobody.pw_uid])
        XCTAssertTrue(reads.allSatisfy { $0.notifications == [named] }, "\(reads)")

        let byNobody = try entries(geLog, ["--user", "nobody"])
        XCTAssertEqual(byNobody.map(\.action), ["read"])
        let byMe = try entries(geLog, ["--user", me, "--type", "consult"])
        XCTAssertEqual(byMe.map(\.view), ["inbox", "events"])
        XCTAssertEqual(byMe.first?.notifications, [named], "the listing names what it showed")
        XCTAssertEqual(byMe.first?.query, "limit=10")
        XCTAssertEqual(byMe.first?.count, 1)
        XCTAssertEqual(byMe.last?.query, "type=received")
        XCTAssertEqual(byMe.last?.role, "operator")
        let later = try entries(geLog, ["--since", Timestamp.formatWithMilliseconds(Date().addingTimeInterval(3600))])
        XCTAssertEqual(later, [], "--since compares the entry's log time")
        let received = try entries(geLog, ["--type", "received"])
        XCTAssertEqual(received.map(\.id), [sent.id])
        XCTAssertEqual(received.first?.sender, "AZ")
        XCTAssertEqual(received.first?.recipients, ["GE"])
        XCTAssertNotNil(received.first?.signer, "version 3 names its signer")

        let outboxListings = try entries(cluster.logDirectory("AZ"), ["--type", "outbox"])
        XCTAssertEqual(outboxListings.count, 1)
        XCTAssertEqual(outboxListings.first?.notifications, ["AZ/\(sent.id.uuidString.uppercased())"])

        let text = try iias(["log", "entries", geLog, "--user", "nobody"])
        XCTAssertTrue(text.stdout.contains("read") && text.stdout.contains("by nobody") && text.stdout.contains(named), text.stdout)
        XCTAssertFalse(text.stdout.contains("Consulted twice"), "nothing is decrypted")
        for log in [geLog, cluster.logDirectory("AZ")] {
            let verified = try iias(["log", "verify", log])
            XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)
        }
        let wrong = try iias(["log", "entries", geLog, "--since", "yesterday"])
        XCTAssertEqual(wrong.status, 2)
        XCTAssertTrue(wrong.stderr.contains("RFC 3339"), wrong.stderr)

        // The same through the API, for an auditor only.
        let path = "/v1/log/entries?user=nobody"
        let (asOperator, _) = try await ge.raw(.GET, path)
        XCTAssertEqual(asOperator, 403, "an operator does not list who read what")
        try allowOnGE(["\(me)=auditor", "nobody=operator"])
        cluster.signal("GE", SIGHUP)
        try await eventually("root is GE's auditor") { try await ge.raw(.GET, path).0 == 200 }
        let viaAPI: [LogEntrySummary] = try await ge.call(.GET, path)
        XCTAssertEqual(viaAPI, byNobody, "the API answers as the offline command does")
        let (badType, _) = try await ge.raw(.GET, "/v1/log/entries?type=gossip")
        XCTAssertEqual(badType, 400)
    }
}
