import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// A notification is identified by (sender, id): a center that reuses another center's
/// id — by mistake, or to suppress it — gets its own inbox item and nothing more.
final class IdSquattingTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, stdin: nil, timeout: 60)
    }

    /// The state of `id` at `recipient` in `center`'s outbox.
    private func state(_ cluster: NodeCluster, _ center: String, _ id: UUID, at recipient: String = "MD") async throws -> DeliveryState? {
        try await cluster.client(center).delivery(of: id).recipients.first { $0.center.rawValue == recipient }?.state
    }

    private func draft(to recipient: String, subject: String, priority: String, id: UUID) -> [String: Any] {
        var draft = NodeCluster.draft(to: [recipient], subject: subject, priority: priority)
        draft["id"] = id.uuidString.lowercased()
        return draft
    }

    /// The node's 409 for `body`, with its message.
    private func conflict(_ body: () async throws -> some Any, file: StaticString = #filePath, line: UInt = #line) async -> APIErrorBody? {
        do {
            _ = try await body()
            XCTFail("accepted; expected 409", file: file, line: line)
        } catch LocalAPIClient.Failure.refused(let status, let error) {
            XCTAssertEqual(status, 409, error.error, file: file, line: line)
            return error
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
        return nil
    }

    func testUAReusingAZsIdDoesNotStopAZsNotificationReachingMD() async throws {
        let cluster = try NodeCluster(["AZ", "UA", "MD"])
        try cluster.startAll()
        defer { cluster.stopAll() }
        let (az, ua) = (CenterID(rawValue: "AZ")!, CenterID(rawValue: "UA")!)
        let id = UUID()

        // UA's envelope under the id reaches MD first: UA holds MD's receipt for it.
        let squat = try await cluster.client("UA").submit(draft(to: "MD", subject: "Squatter", priority: "routine", id: id))
        XCTAssertEqual(squat.id, id)
        try await eventually("MD's receipt for UA's envelope") { try await self.state(cluster, "UA", id) == .delivered }

        // AZ's flash alert under the same id is delivered, not refused as "id already used".
        let alert = try await cluster.client("AZ").submit(draft(to: "MD", subject: "Flash alert", priority: "flash", id: id))
        XCTAssertEqual(alert.id, id)
        try await eventually("MD's answer to AZ's envelope") { [.delivered, .refused].contains(try await self.state(cluster, "AZ", id)) }
        let answer = try await cluster.client("AZ").delivery(of: id).recipients.first
        XCTAssertEqual(answer?.state, .delivered, "MD refused AZ's genuine envelope: \(answer?.detail ?? "")")

        // MD's inbox holds both, each under its sender.
        let md = cluster.client("MD")
        let inbox = try await md.inbox()
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: inbox.map { ($0.sender, $0.subject) }), [az: "Flash alert", ua: "Squatter"])
        XCTAssertEqual(Set(inbox.map(\.id)), [id])
        XCTAssertEqual(inbox.first { $0.sender == az }?.priority, .flash)

        // The id alone is ambiguous: refused, naming both; with the sender, each opens.
        let ambiguous = await conflict { try await md.read(id) }
        XCTAssertTrue(ambiguous?.error.contains("AZ/\(id.uuidString.lowercased())") == true, "\(String(describing: ambiguous))")
        XCTAssertTrue(ambiguous?.error.contains("UA/\(id.uuidString.lowercased())") == true, "\(String(describing: ambiguous))")
        let readAZ = try await md.read(id, from: az)
        XCTAssertEqual(readAZ.notification.subject, "Flash alert")
        XCTAssertEqual(readAZ.notification.sender, az)
        let readUA = try await md.read(id, from: ua)
        XCTAssertEqual(readUA.notification.subject, "Squatter")

        // The operator CLI: a bare id lists both and exits 1; SENDER/prefix and --from work.
        let socket = ["--socket", cluster.socketPath("MD")]
        let prefix = String(id.uuidString.lowercased().prefix(8))
        let table = try iias(["inbox"] + socket)
        XCTAssertTrue(table.stdout.contains("AZ/" + prefix) && table.stdout.contains("UA/" + prefix), "the table shows the shared id qualified: \(table.stdout)")
        let bare = try iias(["read", prefix] + socket)
        XCTAssertEqual(bare.status, 2, "an ambiguous prefix is a usage error: \(bare.stderr)")
        XCTAssertTrue(bare.stderr.contains("AZ/") && bare.stderr.contains("UA/"), bare.stderr)
        let full = try iias(["read", id.uuidString] + socket)
        XCTAssertEqual(full.status, 1, "the node refuses an ambiguous full id: \(full.stderr)")
        XCTAssertTrue(full.stderr.contains("AZ/") && full.stderr.contains("UA/"), full.stderr)
        let qualified = try iias(["read", "AZ/" + prefix] + socket)
        XCTAssertEqual(qualified.status, 0, qualified.stderr)
        XCTAssertTrue(qualified.stdout.contains("Flash alert") && !qualified.stdout.contains("Squatter"), qualified.stdout)
        let ack = try iias(["ack", prefix, "--from", "UA"] + socket)
        XCTAssertEqual(ack.status, 0, ack.stderr)
        try await eventually("UA's notification acknowledged at UA") { try await self.state(cluster, "UA", id) == .acknowledged }
        let stateAtAZ = try await state(cluster, "AZ", id)
        XCTAssertEqual(stateAtAZ, .delivered, "acknowledging UA's does not acknowledge AZ's")

        // A draft may not reuse an id the node knows, received or sent.
        let reused = await conflict { try await md.submit(self.draft(to: "AZ", subject: "Reuse", priority: "routine", id: id)) }
        XCTAssertTrue(reused?.error.contains("received from") == true, "\(String(describing: reused))")
        let resent = await conflict { try await cluster.client("AZ").submit(self.draft(to: "MD", subject: "Again", priority: "routine", id: id)) }
        XCTAssertTrue(resent?.error.contains("sent by this node") == true, "\(String(describing: resent))")

        // After a restart (the ledger from its snapshot) both are still there, as they were.
        cluster.stop("MD")
        XCTAssertTrue(FileManager.default.fileExists(atPath: cluster.logDirectory("MD") + "/../ledger.snapshot"), "a clean stop writes the snapshot")
        try cluster.start("MD")
        try await eventually("MD says how it folded") { cluster.errorOutput("MD").contains("log opened and folded") }
        XCTAssertFalse(cluster.errorOutput("MD").contains("folding the whole log"), "the snapshot with one id from two senders loads: \(cluster.errorOutput("MD"))")
        let again = try await cluster.client("MD").inbox()
        XCTAssertEqual(Set(again.map { EnvelopeKey(sender: $0.sender, id: $0.id) }), [EnvelopeKey(sender: az, id: id), EnvelopeKey(sender: ua, id: id)])
        XCTAssertEqual(again.first { $0.sender == ua }?.acknowledgedBy != nil, true)
        XCTAssertNil(again.first { $0.sender == az }?.acknowledgedBy)
    }
}
