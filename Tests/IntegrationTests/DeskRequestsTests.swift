import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Requests and their deadlines with real node processes: a request to two centers, one
/// of which answers, shows at the sender as overdue for the silent one once its (short)
/// deadline passes and as answered by the other; `watch`'s event and the gauge say so; a
/// request sent without a deadline gets the one its priority calls for.
final class DeskRequestsTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, environment: ["COLUMNS": "200", "NO_COLOR": "1"], timeout: 60)
    }

    func testTheSilentRecipientIsOverdueAndTheOneWhoRepliedIsAnswered() async throws {
        let watchEvery: [String: Any] = ["requests": ["checkSeconds": 0.2]]
        let metricsPort = try LocalCluster.freePort()
        let cluster = try NodeCluster(["AZ", "GE", "UA"], extra: watchEvery)
        try cluster.writeConfiguration("AZ", pki: TestPKI.shared.layout, peers: ["GE", "UA"], users: ["\(LocalCluster.currentUser)=operator"],
                                       extra: watchEvery.merging(["metrics": ["listen": "127.0.0.1:\(metricsPort)"]]) { $1 })
        try cluster.startAll()
        let az = cluster.client("AZ")
        // Subscribed before the request exists, so no announcement can slip past.
        let stream = try await az.events(EventFilter(kinds: [.request]))

        var draft = LocalCluster.draft(to: ["GE", "UA"], subject: "Owner of the white Sprinter at Poti")
        draft["kind"] = "request"
        let deadline = Date().addingTimeInterval(4)
        draft["responseDeadline"] = Timestamp.formatWithMilliseconds(deadline)
        let request = try await az.submit(draft)
        let overdueEvent = Task { () -> RequestStatus? in
            for try await line in stream {
                if let status = line.request, status.id == request.id, status.stage == .overdue { return status }
            }
            return nil
        }
        let giveUp = Task { try await Task.sleep(for: .seconds(60)); overdueEvent.cancel() }
        defer { giveUp.cancel() }

        try await eventually("the request at GE and UA") {
            let ge = try await cluster.client("GE").inbox().contains { $0.id == request.id }
            let ua = try await cluster.client("UA").inbox().contains { $0.id == request.id }
            return ge && ua
        }
        _ = try await cluster.client("GE").reply(to: request.id, LocalCluster.draft(to: ["AZ"], subject: "Re: Sprinter"))
        // UA says it is delayed: shown to AZ, but it answers nothing and moves no deadline.
        let prefix = String(request.id.uuidString.lowercased().prefix(8))
        let delay = try iias(["reply", prefix, "--delayed", "awaiting the prosecutor's consent", "--response-deadline", "2d",
                              "--socket", cluster.socketPath("UA")])
        XCTAssertEqual(delay.status, 0, delay.stderr)
        let noReason = try iias(["reply", prefix, "--response-deadline", "2d", "--socket", cluster.socketPath("UA")])
        XCTAssertEqual(noReason.status, 2, "a deadline without --delayed is refused: \(noReason.stderr)")

        try await eventually("overdue for UA (delayed), answered by GE") {
            guard let status = try await az.requests().first(where: { $0.id == request.id }) else { return false }
            return status.stage == .overdue && status.answered.map(\.center.rawValue) == ["GE"] && status.waiting.map(\.rawValue) == ["UA"]
                && status.delayed.map(\.subject) == ["Delayed: awaiting the prosecutor's consent"]
        }
        let status = try await az.requests().first { $0.id == request.id }
        XCTAssertEqual(status?.deadline.timeIntervalSince1970 ?? 0, deadline.timeIntervalSince1970, accuracy: 0.002, "the delay reset nothing")
        let table = try iias(["requests", "--socket", cluster.socketPath("AZ")])
        XCTAssertEqual(table.status, 0, table.stderr)
        let row = try XCTUnwrap(table.stdout.split(separator: "\n").first { $0.contains(Render8.short(request.id)) }, table.stdout)
        XCTAssertTrue(row.contains("overdue by") && row.contains(" GE ") && row.contains(" UA (delayed) ") && row.contains("Sprinter"), String(row))
        XCTAssertTrue(table.stdout.contains("UA delayed until ") && table.stdout.contains("Delayed: awaiting the prosecutor's consent"), table.stdout)
        let json = try iias(["requests", "--json", "--socket", cluster.socketPath("AZ")])
        let listed = try APIJSON.decoder().decode([RequestStatus].self, from: Data(json.stdout.utf8))
        XCTAssertEqual(listed.first?.id, request.id, "overdue first")
        XCTAssertEqual(listed.first?.direction, .sent)

        let event = try await overdueEvent.value
        XCTAssertEqual(event?.waiting.map(\.rawValue), ["UA"], "watch hears that the request is overdue")
        try await eventually("the gauge counts it") {
            metricValue(try httpGet(port: metricsPort, path: "/metrics"), #"iias_requests_overdue{direction="sent"}"#) == 1
        }

        // UA owes the answer (its delay notice answers nothing): overdue in its own list;
        // GE answered, so nothing is open there.
        let atUA = try await cluster.client("UA").requests()
        XCTAssertEqual(atUA.map(\.direction), [.received])
        XCTAssertEqual(atUA.first?.stage, .overdue)
        let atGE = try await cluster.client("GE").requests()
        XCTAssertTrue(atGE.isEmpty, "GE replied: \(atGE)")
    }

    func testARequestWithoutADeadlineGetsOneByPriority() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.startAll()
        var draft = LocalCluster.draft(to: ["GE"], subject: "Flash: hostage location", priority: "flash")
        draft["kind"] = "request"
        let before = Date()
        let request = try await cluster.client("AZ").submit(draft)
        let listed = try await cluster.client("AZ").requests()
        let status = try XCTUnwrap(listed.first { $0.id == request.id })
        XCTAssertEqual(status.deadline.timeIntervalSince(status.created), 8 * 3600, accuracy: 1, "flash: 8 hours")
        XCTAssertGreaterThanOrEqual(status.created.timeIntervalSince(before), -1)
        XCTAssertEqual(status.stage, .open)
        XCTAssertEqual(status.waiting.map(\.rawValue), ["GE"])

        // The listing showed a subject: one `consult` entry (view `requests`) names it.
        let logged = try iias(["log", "entries", cluster.logDirectory("AZ"), "--type", "requests", "--json"])
        XCTAssertEqual(logged.status, 0, logged.stderr)
        let entries = try logged.stdout.split(separator: "\n").map { try APIJSON.decoder().decode(LogEntrySummary.self, from: Data($0.utf8)) }
        XCTAssertEqual(entries.map(\.notifications), [["AZ/\(request.id.uuidString.uppercased())"]])
    }
}

/// The 8-character id the tables print.
private enum Render8 {
    static func short(_ id: UUID) -> String { String(id.uuidString.lowercased().prefix(8)) }
}
