import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// The node's main job with real processes: four centers in a full mesh on 127.0.0.1,
/// store and forward across restarts, load from two senders, and every log verifying.
final class NodeProcessTests: XCTestCase {
    private func verifyLog(_ cluster: NodeCluster, _ center: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try ProcessRunner.run(RepositoryPaths.iiasExecutable,
                                           ["log", "verify", cluster.logDirectory(center), "--ca", TestPKI.shared.caFile,
                                            "--certs", TestPKI.shared.centersDirectory, "--crl", TestPKI.shared.crlFile], timeout: 60)
        XCTAssertEqual(result.status, 0, "log of \(center) does not verify:\n\(result.stdout)\n\(result.stderr)", file: file, line: line)
    }

    func testFourNodeMeshDeliversOnceToEachWithReceiptsAndLogsVerify() async throws {
        let cluster = try NodeCluster(["AZ", "GE", "UA", "MD"])
        try cluster.startAll()
        let az = cluster.client("AZ")
        let sent = try await az.submit(NodeCluster.draft(to: ["all"], subject: "Planned attack on the BTC pipeline", priority: "flash"))
        XCTAssertEqual(sent.recipients.map(\.rawValue), ["GE", "MD", "UA"])
        try await eventually("three receipts at AZ") {
            try await az.delivery(of: sent.id).recipients.allSatisfy { $0.state == .delivered }
        }
        for center in ["GE", "UA", "MD"] {
            let inbox = try await cluster.client(center).inbox()
            XCTAssertEqual(inbox.map(\.id), [sent.id], "\(center) has it exactly once")
            XCTAssertEqual(inbox.first?.priority, .flash)
            XCTAssertEqual(inbox.first?.sender.rawValue, "AZ")
        }
        // An operator at GE reads and acknowledges; AZ sees the acknowledgement.
        let read = try await cluster.client("GE").read(sent.id)
        XCTAssertEqual(read.notification.subject, "Planned attack on the BTC pipeline")
        _ = try await cluster.client("GE").acknowledge(sent.id)
        try await eventually("GE's acknowledgement at AZ") {
            try await az.delivery(of: sent.id).recipients.first { $0.center.rawValue == "GE" }?.state == .acknowledged
        }
        let status = try await az.status()
        XCTAssertEqual(status.peersConnected, 3)
        cluster.stopAll()
        for center in ["AZ", "GE", "UA", "MD"] { try verifyLog(cluster, center) }
    }

    func testQueuedForADownRecipientSurvivesSenderRestartAndArrivesOnce() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ")
        let first = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Sent while GE is down"))
        let queued = try await cluster.client("AZ").delivery(of: first.id)
        XCTAssertTrue([.queued, .sent].contains(queued.recipients[0].state), "\(queued.recipients[0].state)")

        XCTAssertEqual(cluster.stop("AZ"), 0, "a clean shutdown exits 0")
        try cluster.start("AZ")
        let second = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Second, after AZ restarted"))
        let afterRestart = try await cluster.client("AZ").delivery(of: first.id)
        XCTAssertNotEqual(afterRestart.recipients[0].state, .delivered, "GE is still down")

        try cluster.start("GE")
        try await eventually("both delivered after GE started") {
            let a = try await cluster.client("AZ").delivery(of: first.id), b = try await cluster.client("AZ").delivery(of: second.id)
            return a.recipients[0].state == .delivered && b.recipients[0].state == .delivered
        }
        let inbox = try await cluster.client("GE").inbox()
        XCTAssertEqual(Set(inbox.map(\.id)), [first.id, second.id])
        XCTAssertEqual(inbox.count, 2, "nothing twice")
        // Restart GE: the inbox is a fold over its log (from the snapshot a clean stop
        // wrote), the same after; a damaged snapshot is set aside and the log folded whole.
        _ = try await cluster.client("GE").read(first.id)
        let before = try await cluster.client("GE").inbox()
        cluster.stop("GE")
        let snapshot = cluster.logDirectory("GE") + "/../ledger.snapshot"
        XCTAssertTrue(FileManager.default.fileExists(atPath: snapshot), "a clean stop writes the ledger snapshot")
        try cluster.start("GE")
        let again = try await cluster.client("GE").inbox()
        XCTAssertEqual(again.map(\.id), inbox.map(\.id))
        XCTAssertEqual(again, before, "ids, read flags and summaries come back from the snapshot")
        XCTAssertFalse(cluster.errorOutput("GE").contains("folding the whole log"), cluster.errorOutput("GE"))
        cluster.stop("GE")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: snapshot))
        bytes[bytes.count / 2] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: snapshot))
        try cluster.start("GE")
        let refolded = try await cluster.client("GE").inbox()
        XCTAssertEqual(refolded, before, "folded from the log alone")
        try await eventually("the node says why it folded the whole log") {
            cluster.errorOutput("GE").contains("folding the whole log") && cluster.errorOutput("GE").contains("checksum")
        }
        cluster.stopAll()
        try verifyLog(cluster, "AZ")
        try verifyLog(cluster, "GE")
    }

    /// A snapshot written by an older node (format version 1, whose waiting deliveries may
    /// carry wire times) still starts the node from it, and what it held queued leaves.
    func testAVersion1SnapshotStillStartsTheNodeAndItsQueueLeaves() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ")
        let queued = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Queued across an upgrade"))
        let logged = try await cluster.client("AZ").delivery(of: queued.id).recipients[0]
        cluster.stop("AZ")
        let snapshot = URL(fileURLWithPath: cluster.logDirectory("AZ") + "/../ledger.snapshot")
        var bytes = try Data(contentsOf: snapshot)
        XCTAssertEqual(Array(bytes.prefix(8)), Array("IIASLDG2".utf8))
        bytes.replaceSubrange(0..<8, with: Array("IIASLDG1".utf8))
        try bytes.write(to: snapshot)

        try cluster.start("AZ")
        let restarted = try await cluster.client("AZ").delivery(of: queued.id).recipients[0]
        XCTAssertFalse(cluster.errorOutput("AZ").contains("folding the whole log"), cluster.errorOutput("AZ"))
        XCTAssertEqual(restarted.state, .queued)
        XCTAssertEqual(restarted.updated, logged.updated, "the time the log gives the waiting delivery")
        try cluster.start("GE")
        try await eventually("delivered after GE started") {
            try await cluster.client("AZ").delivery(of: queued.id).recipients[0].state == .delivered
        }
        cluster.stop("AZ")
        XCTAssertEqual(Array(try Data(contentsOf: snapshot).prefix(8)), Array("IIASLDG2".utf8), "the next snapshot is version 2")
        cluster.stopAll()
        try verifyLog(cluster, "AZ")
    }

    func testThousandNotificationsFromTwoSendersNoneLostNoneTwiceInOrder() async throws {
        let cluster = try NodeCluster(["AZ", "UA", "GE"])
        try cluster.startAll()
        let perSender = 500
        var sent: [String: [Submission]] = [:]
        try await withThrowingTaskGroup(of: (String, [Submission]).self) { group in
            for sender in ["AZ", "UA"] {
                group.addTask {
                    var submissions: [Submission] = []
                    for i in 0..<perSender {
                        submissions.append(try await cluster.client(sender).submit(NodeCluster.draft(to: ["GE"], subject: "\(sender) \(i)")))
                    }
                    return (sender, submissions)
                }
            }
            for try await (sender, submissions) in group { sent[sender] = submissions }
        }
        let ge = cluster.client("GE")
        try await eventually("1,000 notifications in GE's inbox", timeout: 180) {
            try await ge.status().inbox == 2 * perSender
        }
        let inbox = try await ge.inbox()
        XCTAssertEqual(inbox.count, 2 * perSender)
        XCTAssertEqual(Set(inbox.map(\.id)).count, 2 * perSender, "none twice")
        for sender in ["AZ", "UA"] {
            let expected = sent[sender]!.sorted { $0.logIndex < $1.logIndex }.map(\.id)
            let arrived = inbox.filter { $0.sender.rawValue == sender }.sorted { $0.logIndex < $1.logIndex }.map(\.id)
            XCTAssertEqual(arrived, expected, "\(sender)'s notifications arrive in the order \(sender) logged them")
        }
        for sender in ["AZ", "UA"] {
            try await eventually("every receipt logged at \(sender)") {
                try await cluster.client(sender).outbox(limit: nil).allSatisfy { $0.recipients[0].state == .delivered }
            }
        }
        cluster.stopAll()
        for center in ["AZ", "UA", "GE"] { try verifyLog(cluster, center) }
    }

    func testInvalidNotificationIsRefusedNamingTheFieldAndNothingIsLogged() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ")
        let az = cluster.client("AZ")
        let before = try await az.status().logEntries
        var draft = NodeCluster.draft(to: ["GE"], subject: String(repeating: "x", count: 300))
        draft["category"] = "shoplifting"
        do {
            _ = try await az.submit(draft)
            XCTFail("an invalid notification was accepted")
        } catch LocalAPIClient.Failure.refused(let status, let body) {
            XCTAssertEqual(status, 422)
            let paths = Set((body.problems ?? []).map(\.path))
            XCTAssertTrue(paths.isSuperset(of: ["/category", "/subject"]), "\(paths)")
        }
        do {
            _ = try await az.submit(NodeCluster.draft(to: ["TJ"], subject: "To a center that is not a peer"))
            XCTFail("a notification to an unknown center was accepted")
        } catch LocalAPIClient.Failure.refused(let status, let body) {
            XCTAssertEqual(status, 422)
            XCTAssertTrue(body.error.contains("TJ"), body.error)
        }
        // Garbage, truncation and oversize bodies: a clear 4xx, the node alive.
        let (garbage, garbageBody) = try await az.raw(.POST, "/v1/notifications", body: Array("{\"recipients\": [".utf8))
        XCTAssertEqual(garbage, 400, String(decoding: garbageBody, as: UTF8.self))
        let (huge, _) = try await az.raw(.POST, "/v1/notifications", body: [UInt8](repeating: 0x20, count: 3 << 20))
        XCTAssertEqual(huge, 413)
        let (missing, _) = try await az.raw(.GET, "/v1/inbox/not-a-uuid")
        XCTAssertEqual(missing, 400)
        let (unknown, _) = try await az.raw(.GET, "/v1/nothing")
        XCTAssertEqual(unknown, 404)
        let (method, _) = try await az.raw(.DELETE, "/v1/status")
        XCTAssertEqual(method, 405)
        let after = try await az.status().logEntries
        XCTAssertEqual(after, before, "nothing refused was logged")
    }

    func testUserNotInTheAllowListIsRefusedAndSocketIsMode0660() async throws {
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": []], users: ["someone-else=operator"])
        try cluster.start("AZ")
        var info = stat()
        XCTAssertEqual(stat(cluster.socketPath("AZ"), &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o660)
        do {
            _ = try await cluster.client("AZ").status()
            XCTFail("a user outside the allow-list was served")
        } catch LocalAPIClient.Failure.refused(let status, let body) {
            XCTAssertEqual(status, 403)
            XCTAssertTrue(body.error.contains(NodeCluster.currentUser), body.error)
            XCTAssertTrue(body.hint?.contains("api.users") == true)
        }
    }

    func testAuditorMayLookButNotSendOrRead() async throws {
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": []], users: ["\(NodeCluster.currentUser)=auditor"])
        try cluster.start("AZ")
        let az = cluster.client("AZ")
        _ = try await az.status()
        _ = try await az.peers()
        do {
            _ = try await az.inbox()
            XCTFail("an auditor listed the inbox")
        } catch LocalAPIClient.Failure.refused(let status, _) {
            XCTAssertEqual(status, 403)
        }
    }

    func testASecondNodeOnTheSameDataIsRefusedAndTheFirstGoesOn() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ")
        let client = cluster.client("AZ")
        _ = try await client.submit(NodeCluster.draft(to: ["GE"], subject: "Before the second start"))
        let second = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["node", "run", "--config", cluster.configURL("AZ").path], timeout: 30)
        XCTAssertEqual(second.status, 1, second.stderr)
        XCTAssertTrue(second.stderr.contains("open in another process") && second.stderr.contains("already runs"), second.stderr)
        XCTAssertTrue(cluster.isRunning("AZ"))
        _ = try await client.submit(NodeCluster.draft(to: ["GE"], subject: "After the second start"))
        let outbox = try await client.outbox()
        XCTAssertEqual(outbox.count, 2)
        XCTAssertEqual(cluster.stop("AZ"), 0)
        let verify = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["log", "verify", cluster.logDirectory("AZ")], timeout: 60)
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
    }

    func testBadConfigurationNamesTheKeyAndExitsTwo() throws {
        let folder = try makeTemporaryDirectory("badconfig")
        let file = folder.appendingPathComponent("node.json")
        let cases: [(String, String)] = [
            ("{\"center\": \"AZ\"}", "keys"),
            ("{\"center\": \"az!\"}", "center"),
            ("not json", "(file)"),
        ]
        for (text, key) in cases {
            try Data(text.utf8).write(to: file)
            let result = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["node", "run", "--config", file.path], timeout: 30)
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertTrue(result.stderr.contains(key), "\(key) not named in: \(result.stderr)")
        }
        // A peer address that is not host:port.
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": []], extra: ["peers": ["GE=nowhere"]])
        let result = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["node", "check-config", cluster.configURL("AZ").path], timeout: 30)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("peers[0]"), result.stderr)
    }
}
