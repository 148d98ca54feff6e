import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// The node's faces with real processes: the operator CLI, the event stream, metrics,
/// SIGHUP, and garbage on the local socket.
final class NodeOperationsTests: XCTestCase {
    private func iias(_ arguments: [String], stdin: String? = nil) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, stdin: stdin.map { Array($0.utf8) }, timeout: 60)
    }

    func testOperatorCLISendInboxReadAckOutboxAndExitCodes() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.startAll()
        let az = ["--socket", cluster.socketPath("AZ")], ge = ["--socket", cluster.socketPath("GE")]
        let sent = try iias(["send", "--to", "all", "--category", "weapons-wmd", "--priority", "flash", "--subject", "Cesium-137 container",
                             "--summary", "A lead container was seized at the border.", "--json"] + az)
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let submission = try APIJSON.decoder().decode(Submission.self, from: Data(sent.stdout.utf8))
        try await eventually("delivered to GE") {
            try await cluster.client("AZ").delivery(of: submission.id).recipients[0].state == .delivered
        }
        let inbox = try iias(["inbox", "--json", "--unread"] + ge)
        XCTAssertEqual(inbox.status, 0, inbox.stderr)
        let items = try APIJSON.decoder().decode([InboxItem].self, from: Data(inbox.stdout.utf8))
        XCTAssertEqual(items.map(\.id), [submission.id])
        let prefix = String(submission.id.uuidString.lowercased().prefix(8))
        let read = try iias(["read", prefix] + ge)
        XCTAssertEqual(read.status, 0, read.stderr)
        XCTAssertTrue(read.stdout.contains("Cesium-137 container") && read.stdout.contains("A lead container was seized"), read.stdout)
        let ack = try iias(["ack", prefix] + ge)
        XCTAssertEqual(ack.status, 0, ack.stderr)
        let reply = try iias(["reply", prefix, "--summary", "Confirmed; the carrier is known to us.", "--json"] + ge)
        XCTAssertEqual(reply.status, 0, reply.stderr)
        try await eventually("GE's reply in AZ's inbox") {
            try await cluster.client("AZ").inbox().contains { $0.inReplyTo == submission.id && $0.kind == .reply }
        }
        let outbox = try iias(["outbox", prefix, "--json"] + az)
        XCTAssertEqual(outbox.status, 0, outbox.stderr)
        XCTAssertTrue(outbox.stdout.contains("\"acknowledged\""), outbox.stdout)
        XCTAssertTrue(outbox.stdout.contains("Cesium-137 container") && outbox.stdout.contains("weapons-wmd"),
                      "the summary encrypted for AZ itself reads back: \(outbox.stdout)")
        let logFolder = URL(fileURLWithPath: cluster.logDirectory("AZ"))
        let logFiles = try FileManager.default.contentsOfDirectory(at: logFolder, includingPropertiesForKeys: nil)
        XCTAssertFalse(logFiles.isEmpty)
        for file in logFiles {
            XCTAssertNil(try Data(contentsOf: file).firstRange(of: Data("Cesium-137".utf8)), "no subject in plaintext in \(file.lastPathComponent)")
        }

        let unknown = try iias(["read", "ffffffff-ffff-4fff-bfff-ffffffffffff"] + ge)
        XCTAssertEqual(unknown.status, 1, "a refusal by the node exits 1")
        XCTAssertTrue(unknown.stderr.contains("no notification"), unknown.stderr)
        let invalid = try iias(["send", "--to", "GE", "--category", "terrorism", "--subject", "no summary"] + az)
        XCTAssertEqual(invalid.status, 1)
        XCTAssertTrue(invalid.stderr.contains("/summary"), invalid.stderr)
        let unreachable = try iias(["status", "--socket", cluster.folder.appendingPathComponent("nobody.sock").path])
        XCTAssertEqual(unreachable.status, 3)
        XCTAssertTrue(unreachable.stderr.contains("iias node run"), unreachable.stderr)
    }

    func testSendBatchLogsEveryDraftOfAFileTogetherOrNone() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ")
        let az = ["--socket", cluster.socketPath("AZ")]
        let drafts = (0..<3).map { String(decoding: LocalCluster.draftJSON(to: ["GE"], subject: "Imported \($0)"), as: UTF8.self) }
        let sent = try iias(["send", "--batch", "-", "--json"] + az, stdin: drafts.joined(separator: "\n") + "\n\n")
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let submissions = try APIJSON.decoder().decode([Submission].self, from: Data(sent.stdout.utf8))
        XCTAssertEqual(submissions.count, 3)
        XCTAssertEqual(submissions.map(\.logIndex), [0, 2, 4].map { submissions[0].logIndex + $0 })
        // One wrong draft: exit 1 naming it, nothing more logged.
        let wrong = drafts + [String(decoding: LocalCluster.draftJSON(to: ["GE"], subject: ""), as: UTF8.self)]
        let refused = try iias(["send", "--batch", "-"] + az, stdin: wrong.joined(separator: "\n"))
        XCTAssertEqual(refused.status, 1, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("/3/subject"), refused.stderr)
        let garbled = try iias(["send", "--batch", "-"] + az, stdin: drafts[0] + "\n\n{\"subject\":")
        XCTAssertEqual(garbled.status, 1, garbled.stdout)
        XCTAssertTrue(garbled.stderr.contains("line 3"), "the file's own line number: \(garbled.stderr)")
        let outbox = try await cluster.client("AZ").outbox()
        XCTAssertEqual(Set(outbox.map(\.id)), Set(submissions.map(\.id)))
        // Fields beside --batch, and a file of nothing: usage and invalid-input exits.
        let mixed = try iias(["send", "--batch", "-", "--subject", "x"] + az, stdin: drafts[0])
        XCTAssertEqual(mixed.status, 2, mixed.stderr)
        XCTAssertTrue(mixed.stderr.contains("--batch"), mixed.stderr)
        let empty = try iias(["send", "--batch", "-"] + az, stdin: "\n \n")
        XCTAssertEqual(empty.status, 1, empty.stderr)
        XCTAssertTrue(empty.stderr.contains("no drafts"), empty.stderr)
    }

    /// Requests that arrive together are sealed and logged as one group, yet each keeps
    /// its own outcome: a bad request is refused alone, a batch stays all or nothing, an
    /// id claimed twice at once is sent once, and every accepted one is delivered.
    func testConcurrentSubmissionsEachKeepTheirOwnOutcome() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.startAll()
        let client = cluster.client("AZ")
        let shared = UUID().uuidString.lowercased()
        enum Kind: Sendable { case good, stranger, empty, sameID, badBatch, goodBatch, fullBatch }
        // Five full batches are more than one group takes (Node.maximumGroup): the rest go next.
        let kinds: [Kind] = Array(repeating: .good, count: 40) + [.stranger, .empty, .sameID, .sameID, .badBatch, .goodBatch]
            + Array(repeating: .fullBatch, count: 5)
        func draft(_ subject: String, to recipients: [String] = ["GE"], id: String? = nil) -> [UInt8] {
            var object = try! JSONSerialization.jsonObject(with: Data(LocalCluster.draftJSON(to: recipients, subject: subject))) as! [String: Any]
            if let id { object["id"] = id }
            return Array(try! JSONSerialization.data(withJSONObject: object))
        }
        let outcomes = await withTaskGroup(of: (Int, Result<[Submission], any Error>).self) { group in
            for (number, kind) in kinds.enumerated() {
                group.addTask {
                    let result: Result<[Submission], any Error>
                    do {
                        switch kind {
                        case .good: result = .success([try await client.submit(json: draft("Together \(number)"))])
                        case .stranger: result = .success([try await client.submit(json: draft("To nobody", to: ["ZZ"]))])
                        case .empty: result = .success([try await client.submit(json: draft(""))])
                        case .sameID: result = .success([try await client.submit(json: draft("Same id \(number)", id: shared))])
                        case .badBatch: result = .success(try await client.submit(batch: [draft("Batch ok"), draft(""), draft("Batch ok too")]))
                        case .goodBatch: result = .success(try await client.submit(batch: [draft("Batch a"), draft("Batch b")]))
                        case .fullBatch:
                            result = .success(try await client.submit(batch: (0..<Node.maximumBatch).map { draft("Full \(number).\($0)") }))
                        }
                    } catch {
                        result = .failure(error)
                    }
                    return (number, result)
                }
            }
            var outcomes: [Int: Result<[Submission], any Error>] = [:]
            for await (number, result) in group { outcomes[number] = result }
            return outcomes
        }
        func refusal(_ number: Int) -> (status: Int, problems: [String])? {
            guard case .failure(LocalAPIClient.Failure.refused(let status, let body))? = outcomes[number] else { return nil }
            return (status, body.problems?.map(\.path) ?? [])
        }
        var accepted: [Submission] = []
        for (number, kind) in kinds.enumerated() {
            switch kind {
            case .good, .goodBatch, .fullBatch:
                let outcome = outcomes[number]
                let submissions = try XCTUnwrap(try? outcome?.get(), "request \(number) (\(kind)) was refused: \(String(describing: outcome))")
                XCTAssertEqual(submissions.count, kind == .good ? 1 : kind == .goodBatch ? 2 : Node.maximumBatch)
                accepted += submissions
            case .stranger:
                XCTAssertEqual(refusal(number)?.status, 422, "\(String(describing: outcomes[number]))")
            case .empty:
                XCTAssertEqual(refusal(number)?.status, 422)
                XCTAssertEqual(refusal(number)?.problems, ["/subject"])
            case .badBatch:
                XCTAssertEqual(refusal(number)?.status, 422)
                XCTAssertEqual(refusal(number)?.problems, ["/1/subject"])
            case .sameID:
                break
            }
        }
        let sameID = kinds.indices.filter { kinds[$0] == .sameID }
        let sentOnce = sameID.compactMap { try? outcomes[$0]?.get() }.flatMap { $0 }
        XCTAssertEqual(sentOnce.map { $0.id.uuidString.lowercased() }, [shared], "one of the two requests with the same id is sent")
        XCTAssertEqual(sameID.compactMap { refusal($0)?.status }, [409], "the other is refused: its id is in use (sent by this node)")
        accepted += sentOnce
        XCTAssertEqual(Set(accepted.map(\.logIndex)).count, accepted.count, "each notification has its own log entry")
        let ids = Set(accepted.map(\.id))
        try await eventually("every accepted notification in GE's inbox") {
            Set(try await cluster.client("GE").inbox().map(\.id)) == ids
        }
    }

    func testWatchFollowsArrivalsAsTheyHappen() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.startAll()
        let watch = try RunningProcess(RepositoryPaths.iiasExecutable, ["watch", "--json", "--socket", cluster.socketPath("GE")])
        // The stream is open once the node counts a subscriber; send until the watcher sees one.
        var seen: EventLine?
        let deadline = Date().addingTimeInterval(30)
        var sent: [UUID] = []
        while seen == nil, Date() < deadline {
            sent.append(try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Watch me", priority: "flash")).id)
            if let line = try? watch.nextLine(timeout: 2) {
                seen = try APIJSON.decoder().decode(EventLine.self, from: Data(line.utf8))
            }
        }
        let event = try XCTUnwrap(seen, "no event reached `iias watch`")
        XCTAssertEqual(event.type, "received")
        XCTAssertTrue(sent.contains(try XCTUnwrap(event.item?.id)))
        XCTAssertEqual(event.item?.priority, .flash)
        cluster.stop("GE")
        watch.process.waitUntilExit()
        XCTAssertEqual(watch.process.terminationStatus, 3, "the watcher reports the node going away")
    }

    func testMetricsEndpointCountsWhatHappened() async throws {
        let metricsPort = try NodeCluster.freePort()
        let cluster = try NodeCluster(["AZ", "GE"], extra: [:])
        // Only AZ exposes metrics.
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: cluster.configURL("AZ"))) as! [String: Any]
        config["metrics"] = ["listen": "127.0.0.1:\(metricsPort)"]
        try JSONSerialization.data(withJSONObject: config).write(to: cluster.configURL("AZ"))
        try cluster.startAll()
        let sent = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Counted"))
        try await eventually("delivered") { try await cluster.client("AZ").delivery(of: sent.id).recipients[0].state == .delivered }
        let text = try httpGet(port: metricsPort, path: "/metrics")
        XCTAssertTrue(text.contains("iias_sent_total 1"), text)
        XCTAssertTrue(text.contains("iias_delivered_total 1"), text)
        XCTAssertTrue(text.contains("iias_queue_depth{peer=\"GE\"}"), text)
        XCTAssertTrue(text.contains("iias_log_fsync_seconds_count"), "fsync latency is measured: \(text)")
        XCTAssertTrue(try httpGet(port: metricsPort, path: "/other").contains("404"))
    }

    func testSIGHUPReloadsPeers() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], peers: ["AZ": [], "GE": ["AZ"]])
        try cluster.startAll()
        do {
            _ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Before reload"))
            XCTFail("GE is not yet a peer of AZ")
        } catch LocalAPIClient.Failure.refused(let status, _) {
            XCTAssertEqual(status, 422)
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: cluster.configURL("AZ"))) as! [String: Any]
        config["peers"] = ["GE=127.0.0.1:\(cluster.ports["GE"]!)"]
        try JSONSerialization.data(withJSONObject: config).write(to: cluster.configURL("AZ"))
        cluster.signal("AZ", SIGHUP)
        try await eventually("GE connected after SIGHUP") {
            try await cluster.client("AZ").peers().first?.state == .connected
        }
        let sent = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "After reload"))
        try await eventually("delivered after reload") {
            try await cluster.client("AZ").delivery(of: sent.id).recipients[0].state == .delivered
        }
    }

    func testGarbageOnTheLocalSocketClosesOnlyThatConnection() async throws {
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": []])
        try cluster.start("AZ")
        for garbage in ["\u{0}\u{1}\u{2}garbage\r\n\r\n", "GET /v1/status HTTP/1.1\r\nContent-Length: -5\r\n\r\n", String(repeating: "A", count: 100_000)] {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                let bytes = Array(cluster.socketPath("AZ").utf8)
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            XCTAssertEqual(connected, 0)
            _ = garbage.withCString { write(fd, $0, strlen($0)) }
            shutdown(fd, Int32(SHUT_WR))
            var buffer = [UInt8](repeating: 0, count: 4096)
            var limit = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            while read(fd, &buffer, buffer.count) > 0 {}
            close(fd)
        }
        let status = try await cluster.client("AZ").status()
        XCTAssertEqual(status.center.rawValue, "AZ", "the node still serves after garbage")
    }
}
