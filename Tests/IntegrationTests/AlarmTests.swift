import Foundation
import IIASAPI
import IIASLog
import IIASTestSupport
import XCTest

/// History alarms set aside by an operator, with a real node: a node started from a marked
/// copy while its peers are down holds a log-restored alarm; `iias alarms` lists it with its
/// key, `iias alarms ack` logs and keeps who set it aside and why, `iias status
/// --check-history` stops counting it — across a restart — and bad requests are refused.
final class AlarmTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result { try LocalCluster.iias(arguments) }

    private func alarms(_ cluster: LocalCluster) throws -> [HistoryAlarm] {
        let listed = try iias(["alarms", "--socket", cluster.socketPath("GE"), "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        return try APIJSON.decoder().decode([HistoryAlarm].self, from: Data(listed.stdout.utf8))
    }

    func testAnAcknowledgedAlarmStaysListedButNoLongerCountsEvenAfterARestart() async throws {
        let cluster = try NodeCluster(["GE"], peers: ["GE": ["AZ", "UA"]])
        try FileManager.default.createDirectory(atPath: cluster.dataDirectory("GE"), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: cluster.dataDirectory("GE") + "/restored", contents: nil)
        try cluster.start("GE")
        defer { cluster.stopAll() }
        let socket = cluster.socketPath("GE")
        try await eventually("GE answers") { try self.iias(["status", "--socket", socket]).status == 0 }
        XCTAssertEqual(try iias(["status", "--socket", socket, "--check-history"]).status, 4, "a restored copy whose witnesses have not answered")
        let open = try XCTUnwrap(try alarms(cluster).first)
        XCTAssertEqual(open.kind, .logRestored)
        let key = try XCTUnwrap(open.key)
        XCTAssertTrue(key.hasPrefix("log-restored/"), key)
        XCTAssertNil(open.acknowledged)
        let table = try iias(["alarms", "--socket", socket])
        XCTAssertTrue(table.stdout.contains(key) && table.stdout.contains("open"), table.stdout)

        // Refused: an unknown key (1), an empty note (2, before asking), a note of two lines (1).
        let unknown = try iias(["alarms", "ack", "split-view/nothing.json", "--note", "x", "--socket", socket])
        XCTAssertEqual(unknown.status, 1, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("iias alarms"), "the hint names the listing: \(unknown.stderr)")
        XCTAssertEqual(try iias(["alarms", "ack", key, "--note", "  ", "--socket", socket]).status, 2)
        XCTAssertEqual(try iias(["alarms", "ack", key, "--note", "one\ntwo", "--socket", socket]).status, 1)
        let garbage = try await LocalAPIClient(socketPath: socket).raw(.POST, "/v1/alarms/ack", body: Array("{\"key\":".utf8))
        XCTAssertEqual(garbage.0, 400)
        XCTAssertEqual(try iias(["status", "--socket", socket, "--check-history"]).status, 4, "still open")

        let note = "restored from the backup of 1 December; peers asked to refill"
        let acknowledged = try iias(["alarms", "ack", key, "--note", note, "--socket", socket])
        XCTAssertEqual(acknowledged.status, 0, acknowledged.stderr)
        XCTAssertEqual(try iias(["status", "--socket", socket, "--check-history"]).status, 0, "set aside: monitoring is green")
        let kept = try XCTUnwrap(try alarms(cluster).first?.acknowledged)
        XCTAssertEqual(kept.note, note)
        XCTAssertEqual(kept.user, NSUserName())
        XCTAssertEqual(try iias(["alarms", "ack", key, "--note", "again", "--socket", socket]).status, 0, "acknowledging twice changes nothing")
        XCTAssertEqual(try alarms(cluster).first?.acknowledged?.note, note)
        let status = try iias(["status", "--socket", socket])
        XCTAssertTrue(status.stdout.contains("LOG-RESTORED") && status.stdout.contains("acknowledged by"), status.stdout)

        // A restart keeps it; the log holds who set it aside.
        XCTAssertEqual(cluster.stop("GE"), 0)
        let log = try LogStore(directory: cluster.logDirectory("GE"), readOnly: true)
        let logged = try log.readEntries(0..<log.count).compactMap { AlarmAcknowledgement(json: $0.payload, time: $0.time) }
        log.close()
        XCTAssertEqual(logged.map(\.alarm), [key], "one acknowledgement logged")
        XCTAssertEqual(logged.first?.note, note)
        try cluster.start("GE")
        try await eventually("GE answers again") { try self.iias(["status", "--socket", socket]).status == 0 }
        XCTAssertEqual(try iias(["status", "--socket", socket, "--check-history"]).status, 0)
        XCTAssertEqual(try alarms(cluster).first?.acknowledged?.note, note)
        XCTAssertEqual(cluster.stop("GE"), 0)
        try cluster.verifyLog("GE")
    }
}
