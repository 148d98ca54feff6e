import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// A conversation across three real nodes — AZ asks GE and UA, GE answers, AZ updates
/// and then cancels its request — reads in order at every node with `iias thread`, `read`
/// of the cancelled request says so before anything else, `inbox` marks it, and viewing
/// the thread leaves a consultation in the signed log.
final class DeskThreadTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, environment: ["COLUMNS": "200", "NO_COLOR": "1"], timeout: 60)
    }

    /// AZ's notification of `kind` to GE and UA (naming `named`), once both hold it.
    private func fromAZ(_ cluster: NodeCluster, _ kind: String, _ subject: String, naming named: UUID? = nil) async throws -> UUID {
        var draft = LocalCluster.draft(to: ["GE", "UA"], subject: subject)
        draft["kind"] = kind
        if kind == "request" { draft["responseDeadline"] = Timestamp.formatWithMilliseconds(Date().addingTimeInterval(86_400)) }
        if let named { draft["references"] = [named.uuidString.lowercased()] }
        let id = try await cluster.client("AZ").submit(draft).id
        try await eventually("the \(kind) at GE and UA") {
            let atGE = try await cluster.client("GE").inbox().contains { $0.id == id }
            let atUA = try await cluster.client("UA").inbox().contains { $0.id == id }
            return atGE && atUA
        }
        return id
    }

    func testRequestReplyUpdateCancellationRendersInOrderAtEveryNode() async throws {
        let cluster = try NodeCluster(["AZ", "GE", "UA"])
        try cluster.startAll()
        let az = cluster.client("AZ"), ge = cluster.client("GE"), ua = cluster.client("UA")

        let asked = try await fromAZ(cluster, "request", "Who rented the grey van")
        let answer = try await ge.reply(to: asked, LocalCluster.draft(to: ["AZ"], subject: "Rented by a front company")).id
        try await eventually("the reply at AZ") { try await az.inbox().contains { $0.id == answer } }

        let updated = try await fromAZ(cluster, "update", "The van now has Armenian plates", naming: asked)
        // Updated only: `read` says so first, and `thread` from the update's side finds the request.
        let readUpdated = try iias(["read", String(asked.uuidString.lowercased().prefix(8)), "--socket", cluster.socketPath("UA")])
        XCTAssertEqual(readUpdated.status, 0, readUpdated.stderr)
        XCTAssertTrue(readUpdated.stdout.hasPrefix("UPDATED by AZ at "), readUpdated.stdout)
        let cancelled = try await fromAZ(cluster, "cancellation", "Withdrawn: the van was found", naming: asked)

        let tooShort = try iias(["thread", "ab", "--socket", cluster.socketPath("AZ")])
        XCTAssertEqual(tooShort.status, 2, tooShort.stdout)
        XCTAssertTrue(tooShort.stderr.contains("first 4 characters"), tooShort.stderr)

        // Every node shows what it sent and received, in the order it happened.
        let expected: [String: [(UUID, ThreadItem.Direction)]] = [
            "AZ": [(asked, .sent), (answer, .received), (updated, .sent), (cancelled, .sent)],
            "GE": [(asked, .received), (answer, .sent), (updated, .received), (cancelled, .received)],
            "UA": [(asked, .received), (updated, .received), (cancelled, .received)],
        ]
        let prefix = String(asked.uuidString.lowercased().prefix(8))
        for (center, items) in expected {
            let socket = ["--socket", cluster.socketPath(center)]
            let json = try iias(["thread", prefix, "--json"] + socket)
            XCTAssertEqual(json.status, 0, json.stderr)
            let thread = try APIJSON.decoder().decode([ThreadItem].self, from: Data(json.stdout.utf8))
            XCTAssertEqual(thread.map(\.id), items.map(\.0), "\(center): the thread in time order")
            XCTAssertEqual(thread.map(\.direction), items.map(\.1), "\(center): sent and received")
            XCTAssertEqual(thread.map(\.kind), [.request] + (center == "UA" ? [] : [.reply]) + [.update, .cancellation], center)
            // From the reply's side too: the same conversation.
            let fromLast = try await cluster.client(center).thread(items.last!.0, from: CenterID(rawValue: "AZ")!)
            XCTAssertEqual(fromLast.map(\.id), items.map(\.0), "\(center): the same thread from the cancellation")

            let table = try iias(["thread", prefix] + socket)
            XCTAssertEqual(table.status, 0, table.stderr)
            let subjects = ["Who rented the grey van", "Rented by a front company", "The van now has Armenian plates", "Withdrawn: the van was found"]
                .filter { center != "UA" || $0 != "Rented by a front company" }
            let rows = table.stdout.split(separator: "\n").dropFirst()
            XCTAssertEqual(rows.count, subjects.count, table.stdout)
            for (row, subject) in zip(rows, subjects) { XCTAssertTrue(row.contains(subject), "\(center): \(row) is \(subject)") }
            XCTAssertTrue(rows.first?.hasPrefix(">") ?? false, "the thread marks the notification asked for: \(table.stdout)")
        }

        // At both recipients `read` of the request says first that AZ cancelled it, and the inbox marks it.
        for center in ["GE", "UA"] {
            let read = try iias(["read", prefix, "--socket", cluster.socketPath(center)])
            XCTAssertEqual(read.status, 0, read.stderr)
            let first = read.stdout.split(separator: "\n").first.map(String.init) ?? ""
            XCTAssertTrue(first.hasPrefix("CANCELLED by AZ at ") && first.contains(String(cancelled.uuidString.lowercased().prefix(8))),
                          "\(center): \(read.stdout)")
            let listed = try await cluster.client(center).inbox().first { $0.id == asked }
            XCTAssertEqual(listed?.thread?.state, .cancelled, center)
            XCTAssertEqual(listed?.thread?.id, cancelled, center)
            let inbox = try iias(["inbox", "--socket", cluster.socketPath(center)])
            let row = inbox.stdout.split(separator: "\n").first { $0.contains("Who rented the grey van") }
            XCTAssertTrue(row?.contains("cancelled") ?? false, "\(center): \(inbox.stdout)")
        }
        // An update alone marks what it updates: UA's copy of AZ's update is itself unmarked.
        let updateAtUA = try await ua.read(updated).item
        XCTAssertNil(updateAtUA.thread)

        // Viewing a thread is a consultation in the signed log, naming what it showed.
        let logged = try iias(["log", "entries", cluster.logDirectory("UA"), "--type", "consult", "--json"])
        XCTAssertEqual(logged.status, 0, logged.stderr)
        let views = try logged.stdout.split(separator: "\n").map { try APIJSON.decoder().decode(LogEntrySummary.self, from: Data($0.utf8)) }
            .filter { $0.view == "thread" }
        XCTAssertGreaterThanOrEqual(views.count, 2, logged.stdout)
        XCTAssertEqual(views.first?.notifications?.count, 3, "\(views)")
        XCTAssertEqual(views.first?.query, "thread=AZ/\(asked.uuidString.uppercased())")

        // The desk index is saved sealed beside the log at a clean stop: a restarted node
        // answers at once; AZ's copy holds no subject in the clear and is the daemon's alone.
        for center in ["AZ", "UA"] {
            _ = cluster.stop(center)
            let saved = ((cluster.logDirectory(center) as NSString).deletingLastPathComponent as NSString).appendingPathComponent("desk.index")
            let bytes = try XCTUnwrap(FileManager.default.contents(atPath: saved), "\(center) saved its desk index")
            XCTAssertNil(bytes.range(of: Data("grey van".utf8)), "\(center): no subject in the clear")
            XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: saved)[.posixPermissions] as? NSNumber)?.intValue, 0o600)
            if center == "UA" {
                // Altered on disk: not used; the log is read again and says the same.
                var altered = bytes
                altered[altered.count / 2] ^= 0x20
                try altered.write(to: URL(fileURLWithPath: saved))
            }
            try cluster.start(center)
            try await eventually("\(center) answers again") { (try? await cluster.client(center).status()) != nil }
            var again: [ThreadItem] = []
            try await eventually("\(center)'s thread after a restart") {
                do { again = try await cluster.client(center).thread(asked); return true } catch LocalAPIClient.Failure.refused(status: 503, _) { return false }
            }
            XCTAssertEqual(again.map(\.id), expected[center]!.map(\.0), "\(center) after a restart")
            XCTAssertEqual(cluster.errorOutput(center).contains("instead of the saved desk index"), center == "UA",
                           "\(center) says why it read its log again, and only then: \(cluster.errorOutput(center))")
        }
        let restarted = try await cluster.client("UA").inbox().first { $0.id == asked }
        XCTAssertEqual(restarted?.thread?.state, .cancelled, "UA's inbox after a restart")
    }
}
