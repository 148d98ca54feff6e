import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// The local API's connections: kept alive and reused by the client, replaced when the
/// node went away meanwhile, and a draft read exactly as written.
final class LocalAPIConnectionTests: XCTestCase {
    private func metricsCluster() throws -> (NodeCluster, Int) {
        let metricsPort = try NodeCluster.freePort()
        let cluster = try NodeCluster(["AZ", "GE"], extra: [:])
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: cluster.configURL("AZ"))) as! [String: Any]
        config["metrics"] = ["listen": "127.0.0.1:\(metricsPort)"]
        try JSONSerialization.data(withJSONObject: config).write(to: cluster.configURL("AZ"))
        return (cluster, metricsPort)
    }

    /// One metric's value from the node's Prometheus endpoint, if it is there.
    private func metric(_ name: String, port: Int) throws -> Int? {
        let text = try httpGet(port: port, path: "/metrics")
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]).map(Int.init) }
    }

    private func acceptedConnections(_ port: Int) throws -> Int? { try metric("iias_api_connections_total", port: port) }

    /// The node's gauge of open API connections follows connections as they come and go
    /// (raw connections only: a client's kept connection would close when it goes).
    func testOpenConnectionsAreAGaugeThatFollowsThem() async throws {
        let (cluster, port) = try metricsCluster()
        try cluster.start("AZ")
        let path = cluster.socketPath("AZ")
        var held = [try unixConnect(path)]
        defer { held.forEach { close($0) } }
        try await eventually("the gauge counts the first connection") { try metric("iias_api_connections_open", port: port) == 1 }
        for _ in 0..<3 { held.append(try unixConnect(path)) }
        try await eventually("the gauge counts three more") { try metric("iias_api_connections_open", port: port) == 4 }
        held.suffix(3).forEach { close($0) }
        held.removeLast(3)
        try await eventually("the gauge drops back") { try metric("iias_api_connections_open", port: port) == 1 }
    }

    func testOneClientsCallsShareOneKeepAliveConnection() async throws {
        let (cluster, port) = try metricsCluster()
        try cluster.start("AZ")
        let client = cluster.client("AZ")
        _ = try await client.status()
        let before = try XCTUnwrap(try acceptedConnections(port), "the node counts accepted connections")
        for i in 0..<30 {
            if i % 3 == 0 {
                _ = try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "Kept alive \(i)"))
            } else {
                _ = try await client.status()
            }
        }
        // An error answer keeps the connection too.
        let (status, _) = try await client.raw(.GET, "/v1/nothing")
        XCTAssertEqual(status, 404)
        _ = try await client.outbox()
        XCTAssertEqual(try acceptedConnections(port), before, "32 sequential calls after the first opened no new connection")
        // Calls at the same time each need their own connection; they are then kept for reuse.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { _ = try await client.status() } }
            try await group.waitForAll()
        }
        let afterBurst = try XCTUnwrap(try acceptedConnections(port))
        XCTAssertLessThanOrEqual(afterBurst, before + 4)
        for _ in 0..<8 { _ = try await client.status() }
        XCTAssertEqual(try acceptedConnections(port), afterBurst, "the burst's connections are reused afterwards")
    }

    func testAClientOutlivesANodeRestartOnItsKeptConnection() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ")
        let client = cluster.client("AZ")
        let first = try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "Before the restart"))
        XCTAssertEqual(cluster.stop("AZ"), 0)
        do { _ = try await client.status(); XCTFail("a stopped node answered") } catch let failure as LocalAPIClient.Failure {
            guard case .unreachable = failure else { return XCTFail("expected unreachable, got \(failure)") }
        }
        try cluster.start("AZ")
        // The kept connection died with the old process: the next call goes out on a new one.
        let second = try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "After the restart"))
        XCTAssertEqual(second.logIndex > first.logIndex, true)
        let outbox = try await client.outbox()
        XCTAssertEqual(Set(outbox.map(\.id)).isSuperset(of: [first.id, second.id]), true, "both submissions are in the outbox once")
        XCTAssertEqual(outbox.filter { $0.id == second.id }.count, 1, "the second submission was not sent twice")
    }

    func testADraftWithAKeyWrittenTwiceIsRefusedAtThatKey() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ")
        let client = cluster.client("AZ")
        let body = #"{"recipients":["GE"],"category":"terrorism","priority":"flash","handling":{"tlp":"TLP:AMBER"},"#
            + #""subject":"First","subject":"Second","summary":"Which subject was meant?"}"#
        let (status, answer) = try await client.raw(.POST, "/v1/notifications", body: Array(body.utf8))
        XCTAssertEqual(status, 422, String(decoding: answer, as: UTF8.self))
        XCTAssertTrue(String(decoding: answer, as: UTF8.self).contains("/subject"), String(decoding: answer, as: UTF8.self))
        let outbox = try await client.outbox()
        XCTAssertTrue(outbox.isEmpty, "nothing was sent")
        // Over the notification size limit: refused before parsing, the node still serves.
        let huge = Array(#"{"summary":""#.utf8) + [UInt8](repeating: 0x61, count: FormalNotification.maximumEncodedSize) + Array(#""}"#.utf8)
        let (tooLarge, _) = try await client.raw(.POST, "/v1/notifications", body: huge)
        XCTAssertEqual(tooLarge, 413)
        _ = try await client.status()
    }

    func testTheEventStreamFollowsADeliveryAndRefusesAnAuditor() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.startAll()
        let client = cluster.client("AZ")
        try await eventually("linked") { try await client.status().peersConnected == 1 }
        let events = try await client.events()
        let sent = try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "Followed"))
        var states: [DeliveryState] = []
        for try await event in events where event.type == "delivery" && event.id == sent.id {
            states.append(try XCTUnwrap(event.recipient?.state))
            if states.last == .delivered { break }
        }
        XCTAssertEqual(states.first, .queued, "first the queued recipient, then the receipt: \(states)")
        XCTAssertEqual(states.last, .delivered)

        let audited = try NodeCluster(["AZ", "GE"], users: ["\(LocalCluster.currentUser)=auditor"])
        try audited.start("AZ")
        do {
            for try await _ in try await audited.client("AZ").events() { XCTFail("an auditor was given events") }
            XCTFail("the stream ended without the refusal")
        } catch let failure as LocalAPIClient.Failure {
            guard case .refused(let status, _) = failure else { return XCTFail("expected a refusal, got \(failure)") }
            XCTAssertEqual(status, 403)
        }
        _ = try await audited.client("AZ").status()
    }
    func testAFilteredEventStreamCarriesOnlyWhatItAskedFor() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.startAll()
        let client = cluster.client("AZ")
        try await eventually("linked") { try await client.status().peersConnected == 1 }
        let outcomes = try await client.events(EventFilter(states: [.delivered, .refused]))
        let arrivals = try await cluster.client("GE").events(EventFilter(kinds: [.received]))
        let sent = try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "Outcome only"))
        for try await event in outcomes {
            XCTAssertEqual(event.type, "delivery")
            XCTAssertEqual(event.recipient?.state, .delivered, "no queued or sent line before the outcome")
            XCTAssertEqual(event.id, sent.id)
            break
        }
        for try await event in arrivals {
            XCTAssertEqual(event.type, "received", "GE's own receipt and link lines are left out")
            XCTAssertEqual(event.item?.id, sent.id)
            break
        }
        // Unknown filters, kinds, states and empty lists: 400 naming what is allowed; the node serves on.
        for (query, allowed) in [("?state=lost", "queued, sent, delivered, acknowledged, refused"), ("?state=", "delivered"),
                                 ("?type=delivery,gossip", "received, delivery, peer"), ("?colour=red", "type, state"),
                                 ("?state=%00%ff", "delivered")] {
            let (status, body) = try await client.raw(.GET, "/v1/events" + query)
            XCTAssertEqual(status, 400, query)
            XCTAssertTrue(String(decoding: body, as: UTF8.self).contains(allowed), "\(query): \(String(decoding: body, as: UTF8.self))")
        }
        _ = try await client.status()
    }

    func testABatchIsLoggedInOrderWithOneSyncAndDelivered() async throws {
        let cluster = try NodeCluster(["AZ", "GE", "UA"])
        try cluster.startAll()
        let client = cluster.client("AZ")
        try await eventually("linked") { try await client.status().peersConnected == 2 }
        let drafts = (0..<5).map { LocalCluster.draftJSON(to: $0 % 2 == 0 ? ["GE"] : ["GE", "UA"], subject: "Batch \($0)") }
        let submissions = try await client.submit(batch: drafts)
        XCTAssertEqual(submissions.map(\.recipients.count), [1, 2, 1, 2, 1])
        // Consecutive: each notification's sent entry and its operator action, in the batch's order.
        XCTAssertEqual(submissions.map(\.logIndex), (0..<5).map { submissions[0].logIndex + UInt64(2 * $0) })
        try await eventually("every recipient's receipt logged") {
            let outbox = try await client.outbox()
            return submissions.allSatisfy { sent in outbox.first { $0.id == sent.id }?.recipients.allSatisfy { $0.state == .delivered } == true }
        }
        let inbox = try await cluster.client("GE").inbox()
        XCTAssertEqual(Set(inbox.map(\.id)), Set(submissions.map(\.id)))
        let verify = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["log", "verify", cluster.logDirectory("AZ")], timeout: 60)
        XCTAssertEqual(verify.status, 0, verify.stderr)
    }

    func testABatchWithOneBadDraftIsRefusedWholeAndNamesIt() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ")
        let client = cluster.client("AZ")
        let good = LocalCluster.draftJSON(to: ["GE"], subject: "Fine")
        let empty = LocalCluster.draftJSON(to: ["GE"], subject: "")
        func refusal(_ body: [UInt8]) async throws -> (Int, String) {
            let (status, answer) = try await client.raw(.POST, "/v1/notifications/batch", body: body)
            return (status, String(decoding: answer, as: UTF8.self))
        }
        func lines(_ drafts: [[UInt8]]) -> [UInt8] { Array(drafts.map { $0 + [0x0A] }.joined()) }
        // The third draft's subject is empty: 422 naming /2/subject, and nothing of the batch is logged.
        var (status, answer) = try await refusal(lines([good, good, empty]))
        XCTAssertEqual(status, 422, answer)
        XCTAssertTrue(answer.contains("/2/subject"), answer)
        // Garbage, a truncated line, an array, nothing at all, an unknown recipient, one id twice, too many drafts.
        (status, answer) = try await refusal(lines([good, Array("{\"subject\": ".utf8)]))
        XCTAssertEqual(status, 400, answer)
        XCTAssertTrue(answer.contains("notification 1 (line 2)"), answer)
        (status, answer) = try await refusal(good + Array("\n\n{\"subject\": \n".utf8))
        XCTAssertEqual(status, 400, answer)
        XCTAssertTrue(answer.contains("notification 1 (line 3)"), "the blank line is counted: \(answer)")
        (status, answer) = try await refusal(Array("[{}]".utf8))
        XCTAssertEqual(status, 400, answer)
        (status, answer) = try await refusal(Array("\n  \n".utf8))
        XCTAssertEqual(status, 400, answer)
        (status, answer) = try await refusal(lines([good, LocalCluster.draftJSON(to: ["ZZ"], subject: "Nowhere")]))
        XCTAssertEqual(status, 422, answer)
        let id = UUID().uuidString.lowercased()
        let twice = Array(#"{"id":"\#(id)","recipients":["GE"],"category":"terrorism","priority":"routine","handling":{"tlp":"TLP:AMBER"},"subject":"Twice","summary":"The same id."}"#.utf8)
        (status, answer) = try await refusal(lines([twice, twice]))
        XCTAssertEqual(status, 422, answer)
        XCTAssertTrue(answer.contains("/1/id"), answer)
        (status, answer) = try await refusal(lines(Array(repeating: good, count: Node.maximumBatch + 1)))
        XCTAssertEqual(status, 413, answer)
        let outbox = try await client.outbox()
        XCTAssertTrue(outbox.isEmpty, "nothing of a refused batch was logged: \(outbox.map(\.id))")
        // The node serves on, and a batch of one is a submission like any other.
        let one = try await client.submit(batch: [good])
        XCTAssertEqual(one.count, 1)
        let after = try await client.outbox()
        XCTAssertEqual(after.map(\.id), [one[0].id])
    }

    /// A raw connection to a node's socket: the event stream's client that never reads.
    private func unixConnect(_ path: String) throws -> Int32 {
        guard let fd = UnixDomainSocket.connect(path) else { throw TestFailure("cannot connect to \(path)") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    func testAnEventClientThatStopsReadingIsCutOffAndTheNodeGoesOn() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: ["limits": ["maxEventBacklogBytes": 4096]])
        try cluster.start("AZ")   // GE stays down: every submission is one "queued" line
        let client = cluster.client("AZ")
        let fd = try unixConnect(cluster.socketPath("AZ"))
        defer { close(fd) }
        let request = "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n"
        _ = request.withCString { write(fd, $0, strlen($0)) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var head: [UInt8] = []
        while !String(decoding: head, as: UTF8.self).contains("\r\n\r\n") {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { return XCTFail("no head on the event stream") }
            head += buffer[..<n]
        }
        XCTAssertTrue(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 200"))

        // Far more lines than the kernel's socket buffers and the 4 KiB backlog hold, unread.
        let submitted = try await withThrowingTaskGroup(of: Void.self, returning: Int.self) { group in
            for i in 0..<1500 {
                if i >= 32 { try await group.next() }
                group.addTask { _ = try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "Unread \(i)", summaryBytes: 200)) }
            }
            try await group.waitForAll()
            return 1500
        }
        // The node closed the stream: what was in the socket, then the end.
        var received = 0
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n == 0 { break }
            guard n > 0 else { return XCTFail("the stream was neither closed nor read to its end: errno \(errno)") }
            received += n
        }
        XCTAssertLessThan(received, submitted * 200, "cut off before every line was written to it")
        try await eventually("the warning is logged") { cluster.errorOutput("AZ").contains("closing an event stream whose client stopped reading") }
        // Nothing lost, the node serves on, and a new stream starts.
        let outbox = try await client.outbox(limit: 2000)
        XCTAssertEqual(outbox.count, submitted)
        var fresh = try await client.events().makeAsyncIterator()
        _ = try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "After"))
        // GE is down, so AZ's link may report its retries ("peer" lines) in between.
        var line = try await fresh.next()
        while line?.type == "peer" { line = try await fresh.next() }
        XCTAssertEqual(line?.type, "delivery")
    }
    func testTheEventStreamEndsWhenTheNodeStops() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ")
        let events = try await cluster.client("AZ").events()
        final class Ended: @unchecked Sendable {
            let lock = NSLock()
            var value = false
            func set() { lock.withLock { value = true } }
            var isSet: Bool { lock.withLock { value } }
        }
        let ended = Ended()
        let follower = Task {
            defer { ended.set() }
            for try await event in events { XCTAssertNotEqual(event.type, "", "a line of the stream") }
        }
        defer { follower.cancel() }
        XCTAssertEqual(cluster.stop("AZ"), 0, "a clean stop")
        try await eventually("the stream ends with the node, not left open") { ended.isSet }
    }
}
