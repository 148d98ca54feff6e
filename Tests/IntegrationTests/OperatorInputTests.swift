import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Input that helps (issue 28, item 6), with real nodes and the real `iias`: prompts that
/// check each answer at a terminal, values in any case, times in several forms, short ids
/// refused when they fit several, listings cut to a page. Every refusal names what is
/// accepted, and nothing is sent after one.
final class OperatorInputTests: XCTestCase {
    private func iias(_ arguments: [String], stdin: [UInt8]? = nil) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, stdin: stdin, environment: ["NO_COLOR": "1"], timeout: 60)
    }

    /// `iias` on a pseudo-terminal (util-linux `script`): standard input and output are a
    /// terminal, as for an operator; `answers` are typed into it, then end of input.
    private func iiasOnTerminal(_ arguments: [String], answers: String = "", environment: [String: String] = [:]) throws -> ProcessRunner.Result {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("util-linux script is not installed") }
        let quoted = ([RepositoryPaths.iiasExecutable] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        return try ProcessRunner.run("/usr/bin/script", ["-qec", quoted.joined(separator: " "), "/dev/null"], stdin: Array(answers.utf8),
                                     environment: ["NO_COLOR": "1", "SHELL": "/bin/sh"].merging(environment) { $1 }, timeout: 60)
    }

    private func started(_ centers: [String]) throws -> NodeCluster {
        let cluster = try NodeCluster(centers)
        try cluster.startAll()
        return cluster
    }

    private func waitForSockets(_ cluster: NodeCluster, _ centers: [String]) async throws {
        for center in centers {
            try await eventually("\(center)'s API answers") { _ = try await cluster.client(center).status(); return true }
        }
    }

    func testPromptsAskAgainListingTheAcceptedValuesThenSend() async throws {
        let cluster = try started(["AZ", "GE"])
        defer { cluster.stopAll() }
        try await waitForSockets(cluster, ["AZ", "GE"])
        let answers = ["G E", "GE", "terror", "TERRORISM", "fast", "FLASH", "scarlet", "red", "H5", "h2,h3", "Not for the press",
                       "", String(repeating: "x", count: 201), "Pipeline", "Drone seen."]
        let run = try iiasOnTerminal(["send", "--socket", cluster.socketPath("AZ")], answers: answers.joined(separator: "\n") + "\n")
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let shown = run.stdout + run.stderr
        for expected in ["'G E' is not a center id; accepted: center ids such as AZ",
                         "'terror' is not a category; accepted: terrorism, terrorism-financing",
                         "'fast' is not a priority; accepted: flash, urgent, routine (in any case)",
                         "'scarlet' is not a TLP label; accepted: TLP:RED, TLP:AMBER+STRICT",
                         "'H5' is not a handling code; accepted: H0 (law-enforcement use only)",
                         "Restrictions that go with H3: ", "  subject is required",
                         "  the subject is 201 characters long; accepted: at most 200 characters", "sent "] {
            XCTAssertTrue(shown.contains(expected), "missing \(expected) in\n\(shown)")
        }
        try await eventually("GE receives it") { try await cluster.client("GE").inbox().count == 1 }
        let item = try await cluster.client("GE").inbox()[0]
        let read = try await cluster.client("GE").read(item.id)
        XCTAssertEqual(read.notification.category, .terrorism)
        XCTAssertEqual(read.notification.priority, .flash)
        XCTAssertEqual(read.notification.handling.tlp, .red)
        XCTAssertEqual(read.notification.handling.codes, [.h2, .h3])
        XCTAssertEqual(read.notification.subject, "Pipeline")
        XCTAssertEqual(read.notification.handling.restrictions, "Not for the press")
    }

    func testEndOfInputAtAPromptSendsNothing() async throws {
        let cluster = try started(["AZ", "GE"])
        defer { cluster.stopAll() }
        try await waitForSockets(cluster, ["AZ"])
        let run = try iiasOnTerminal(["send", "--socket", cluster.socketPath("AZ"), "--to", "GE", "--kind", "REQUEST"],
                                     answers: "terror\nterrorism\n\n\n\nin two days\n")
        XCTAssertEqual(run.status, 2, run.stdout + run.stderr)
        let shown = run.stdout + run.stderr
        XCTAssertTrue(shown.contains("'terror' is not a category"), shown)
        XCTAssertTrue(shown.contains("in two days is not a time; accepted: an RFC 3339 time (2026-12-06T08:00:00Z), a day (2026-12-06"), shown)
        XCTAssertTrue(shown.contains("no answer for response deadline; nothing was sent"), shown)
        let outbox = try await cluster.client("AZ").outbox()
        XCTAssertEqual(outbox.count, 0, "nothing was sent")
    }

    func testComposeAsksForWhatIsMissingAtATerminalAndChecksEachAnswer() throws {
        let run = try iiasOnTerminal(["compose", "--from", "AZ", "--to", "ge", "--subject", "S", "--summary", "T"],
                                     answers: "terror\nDrug-Trafficking\nurgent\namber+strict\n\n")
        XCTAssertEqual(run.status, 0, run.stdout)
        XCTAssertTrue(run.stdout.contains("'terror' is not a category; accepted: terrorism"), run.stdout)
        // The pseudo-terminal echoes the answers ahead of the questions, so the document
        // follows the last question on its line.
        let line = try XCTUnwrap(run.stdout.split(whereSeparator: \.isNewline).last { $0.contains("\"version\"") })
        let json = line[try XCTUnwrap(line.firstIndex(of: "{"))...]
        let notification = try FormalNotification.parse(Array(json.utf8))
        XCTAssertEqual(notification.category, .drugTrafficking)
        XCTAssertEqual(notification.priority, .urgent)
        XCTAssertEqual(notification.handling.tlp, .amberStrict)
        XCTAssertEqual(notification.recipients.map(\.rawValue), ["GE"], "--to in any case")
    }

    func testFlagsTakeAnyCaseAndEveryDateFormAndRefuseTheRestBeforeSending() async throws {
        let cluster = try started(["AZ", "GE"])
        defer { cluster.stopAll() }
        try await waitForSockets(cluster, ["AZ", "GE"])
        let socket = ["--socket", cluster.socketPath("AZ")]
        let base = ["send", "--to", "GE", "--subject", "S", "--summary", "T"] + socket
        let refusals: [([String], String, String)] = [
            (["--category", "terror"], "/category: 'terror' is not a category (from --category)", "accepted: terrorism, terrorism-financing"),
            (["--category", "terrorism", "--priority", "asap"], "/priority: 'asap' is not a priority (from --priority)", "accepted: flash, urgent, routine"),
            (["--category", "terrorism", "--tlp", "TLP:PINK"], "/handling/tlp: 'TLP:PINK' is not a TLP label (from --tlp)", "accepted: TLP:RED"),
            (["--category", "terrorism", "--kind", "request", "--response-deadline", "2026-02-30"],
             "/responseDeadline: 2026-02-30 names no day of the calendar (from --response-deadline)", "accepted: an RFC 3339 time"),
            (["--category", "terrorism", "--kind", "request", "--response-deadline=-8h"],
             "/responseDeadline: -8h: give a span without a sign; it counts ahead from now", "30m, 12h, 2d, 1w"),
        ]
        for (flags, message, accepted) in refusals {
            let run = try iias(base + flags)
            XCTAssertEqual(run.status, 1, "\(flags): invalid data, as the notification's own checks say: \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(message), "\(flags): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(accepted), "\(flags): \(run.stderr)")
        }
        let since = try iias(["inbox", "--since", "yesterday"] + socket)
        XCTAssertEqual(since.status, 2)
        XCTAssertTrue(since.stderr.contains("--since yesterday is not a time"), since.stderr)
        XCTAssertTrue(since.stderr.contains("a day (2026-12-06, from 00:00 UTC), or a span from now"), since.stderr)
        let outboxAfterRefusals = try await cluster.client("AZ").outbox()
        XCTAssertEqual(outboxAfterRefusals.count, 0, "nothing was sent")

        let sent = try iias(base + ["--category", "TERRORISM", "--priority", "FLASH", "--tlp", "tlp:red", "--handling", "h2",
                                    "--kind", "Request", "--response-deadline", "8h", "--evaluation", "b2", "--json"])
        XCTAssertEqual(sent.status, 0, sent.stderr)
        try await eventually("GE receives it") { try await cluster.client("GE").inbox().count == 1 }
        let item = try await cluster.client("GE").inbox()[0]
        let read = try await cluster.client("GE").read(item.id).notification
        XCTAssertEqual([read.priority.rawValue, read.handling.tlp.rawValue, read.kind.rawValue], ["flash", "TLP:RED", "request"])
        let deadline = try XCTUnwrap(read.responseDeadline)
        XCTAssertEqual(deadline.timeIntervalSinceNow, 8 * 3600, accuracy: 120, "8h counts ahead from now")

        let geSocket = ["--socket", cluster.socketPath("GE")]
        for since in ["2d", "2000-01-01", "2000-01-01T00:00:00Z"] {
            let listed = try iias(["inbox", "--since", since, "--priority", "FLASH", "--category", "Terrorism", "--from", "az", "--json"] + geSocket)
            XCTAssertEqual(listed.status, 0, listed.stderr)
            XCTAssertTrue(listed.stdout.lowercased().contains(item.id.uuidString.lowercased()), "--since \(since): \(listed.stdout)")
        }
        // A reply's --tlp in lower case is still judged against the original's TLP:RED.
        let prefix = String(item.id.uuidString.lowercased().prefix(8))
        let weaker = try iias(["reply", prefix, "--tlp", "green", "--summary", "Seen."] + geSocket)
        XCTAssertEqual(weaker.status, 2, weaker.stderr)
        XCTAssertTrue(weaker.stderr.contains("a reply keeps at least its handling"), weaker.stderr)

        let future = try iias(["inbox", "--since", "2999-01-01", "--json"] + geSocket)
        XCTAssertEqual(future.status, 0, future.stderr)
        XCTAssertFalse(future.stdout.lowercased().contains(item.id.uuidString.lowercased()), "--since a future day lists nothing")
    }

    func testShortIdsAreRefusedWhenTheyFitSeveralListingThemAndResolvedWhenUnique() async throws {
        let cluster = try started(["AZ", "GE"])
        defer { cluster.stopAll() }
        try await waitForSockets(cluster, ["AZ", "GE"])
        let first = UUID(uuidString: "3f2a0000-0000-4000-8000-000000000001")!
        let second = UUID(uuidString: "3f2a1111-0000-4000-8000-000000000002")!
        for id in [first, second] {
            var draft = NodeCluster.draft(to: ["GE"], subject: "Twin \(id.uuidString.prefix(8))")
            draft["id"] = id.uuidString.lowercased()
            _ = try await cluster.client("AZ").submit(draft)
        }
        try await eventually("GE receives both") { try await cluster.client("GE").inbox().count == 2 }
        let az = ["--socket", cluster.socketPath("AZ")], ge = ["--socket", cluster.socketPath("GE")]
        let full = [first, second].map { $0.uuidString.lowercased() }

        for (arguments, what) in [(["outbox", "3f2a"] + az, "outbox notifications"), (["read", "3f2a"] + ge, "inbox notifications"),
                                  (["ack", "3F2A"] + ge, "inbox notifications")] {
            let run = try iias(arguments)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("3f2a matches 2 \(what): "), "\(arguments): \(run.stderr)")
            for id in full { XCTAssertTrue(run.stderr.contains(id), "\(arguments) lists \(id): \(run.stderr)") }
        }
        let empty = try iias(["read", ""] + ge)
        XCTAssertEqual(empty.status, 2)
        XCTAssertTrue(empty.stderr.contains("an empty id names no notification"), empty.stderr)
        XCTAssertTrue(empty.stderr.contains("at least its first 4 characters"), empty.stderr)
        XCTAssertFalse(empty.stderr.contains("inboxs"), empty.stderr)
        let short = try iias(["outbox", "3f2"] + az)
        XCTAssertEqual(short.status, 2)
        XCTAssertTrue(short.stderr.contains("3f2 is too short to name a notification"), short.stderr)

        let delivery = try iias(["outbox", "3f2a1", "--json"] + az)
        XCTAssertEqual(delivery.status, 0, delivery.stderr)
        XCTAssertTrue(delivery.stdout.lowercased().contains(full[1]), delivery.stdout)
        let read = try iias(["read", "3f2a0", "--json"] + ge)
        XCTAssertEqual(read.status, 0, read.stderr)
        XCTAssertTrue(read.stdout.lowercased().contains(full[0]), read.stdout)

        let update = ["send", "--to", "GE", "--category", "terrorism", "--kind", "update", "--subject", "U", "--summary", "Update."] + az
        let ambiguous = try iias(update + ["--reference", "3f2a"])
        XCTAssertEqual(ambiguous.status, 2, ambiguous.stderr)
        XCTAssertTrue(ambiguous.stderr.contains("3f2a matches 2 notifications sent or received"), ambiguous.stderr)
        let outbox = try await cluster.client("AZ").outbox()
        XCTAssertEqual(outbox.count, 2, "nothing was sent")
        let sent = try iias(update + ["--reference", "3F2A1", "--json"])
        XCTAssertEqual(sent.status, 0, sent.stderr)
        try await eventually("GE receives the update") { try await cluster.client("GE").inbox().count == 3 }
        let newest = try await cluster.client("GE").inbox()[0]
        let updateRead = try await cluster.client("GE").read(newest.id)
        XCTAssertEqual(updateRead.notification.references, [second], "the prefix became the full id")

        let one = try iias(["send", "--batch", "-"] + az, stdin: NodeCluster.draftJSON(to: ["GE"], subject: "One") + [0x0A])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stderr.contains("1 notification logged together;"), "one, not '1 notifications': \(one.stderr)")
    }

    func testListingsShowAPageSayHowManyMoreAndUseThePagerOnlyOnATerminal() async throws {
        let cluster = try started(["AZ", "GE"])
        defer { cluster.stopAll() }
        try await waitForSockets(cluster, ["AZ", "GE"])
        let drafts = (1...55).map { String(decoding: NodeCluster.draftJSON(to: ["GE"], subject: "Row \($0)"), as: UTF8.self) }
        let batch = try iias(["send", "--batch", "-", "--socket", cluster.socketPath("AZ")], stdin: Array((drafts.joined(separator: "\n") + "\n").utf8))
        XCTAssertEqual(batch.status, 0, batch.stderr)
        XCTAssertTrue(batch.stderr.contains("55 notifications logged together;"), batch.stderr)
        try await eventually("GE receives 55") { try await cluster.client("GE").inbox().count == 55 }
        let ge = ["--socket", cluster.socketPath("GE")]
        func rows(_ text: String) -> Int { text.split(whereSeparator: \.isNewline).filter { $0.contains("Row ") }.count }

        let page = try iias(["inbox"] + ge)
        XCTAssertEqual(rows(page.stdout), 50)
        XCTAssertTrue(page.stdout.contains("5 more notifications; --all shows them, --limit N shows the newest N"), page.stdout)
        let three = try iias(["inbox", "--limit", "3"] + ge)
        XCTAssertEqual(rows(three.stdout), 3)
        XCTAssertTrue(three.stdout.contains("52 more notifications"), three.stdout)
        let fiftyFour = try iias(["inbox", "--limit", "54"] + ge)
        XCTAssertTrue(fiftyFour.stdout.contains("1 more notification; --all shows it"), fiftyFour.stdout)
        let all = try iias(["inbox", "--all"] + ge)
        XCTAssertEqual(rows(all.stdout), 55)
        XCTAssertFalse(all.stdout.contains("more notification"), all.stdout)
        let json = try iias(["inbox", "--json"] + ge)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [Any]).map(\.count), 55, "--json lists all")
        let jsonLimited = try iias(["inbox", "--json", "--limit", "2"] + ge)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(jsonLimited.stdout.utf8)) as? [Any]).map(\.count), 2)
        let outbox = try iias(["outbox", "--limit", "10", "--socket", cluster.socketPath("AZ")])
        XCTAssertEqual(rows(outbox.stdout), 10)
        XCTAssertTrue(outbox.stdout.contains("45 more notifications"), outbox.stdout)
        for bad in [["--limit", "0"], ["--all", "--limit", "5"]] {
            let run = try iias(["inbox"] + bad + ge)
            XCTAssertEqual(run.status, 2, "\(bad): \(run.stderr)")
        }

        let pager = ["PAGER": "sed s/^/PAGED:/"]
        let paged = try iiasOnTerminal(["inbox", "--limit", "3"] + ge, environment: pager)
        XCTAssertEqual(paged.status, 0, paged.stdout)
        XCTAssertEqual(paged.stdout.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("PAGED:") && $0.contains("Row ") }.count, 3, paged.stdout)
        XCTAssertTrue(paged.stdout.contains("PAGED:52 more notifications"), paged.stdout)
        let pipedWithPager = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["inbox", "--limit", "3"] + ge, environment: pager)
        XCTAssertFalse(pipedWithPager.stdout.contains("PAGED:"), "no pager when standard output is not a terminal")
        let jsonOnTerminal = try iiasOnTerminal(["inbox", "--json"] + ge, environment: pager)
        XCTAssertFalse(jsonOnTerminal.stdout.contains("PAGED:"), "no pager for --json")

        // A table counts up to 1,000 rows past those it shows, never the whole log.
        for _ in 1...4 {
            let drafts = (1...256).map { String(decoding: NodeCluster.draftJSON(to: ["GE"], subject: "Bulk \($0)"), as: UTF8.self) }
            let bulk = try iias(["send", "--batch", "-", "--socket", cluster.socketPath("AZ")], stdin: Array(drafts.joined(separator: "\n").utf8))
            XCTAssertEqual(bulk.status, 0, bulk.stderr)
        }
        let capped = try iias(["outbox", "--limit", "20", "--socket", cluster.socketPath("AZ")])
        XCTAssertTrue(capped.stdout.contains("more than 1000 more notifications; --all shows them"), capped.stdout)
        let counted = try iias(["outbox", "--limit", "79", "--socket", cluster.socketPath("AZ")])
        XCTAssertTrue(counted.stdout.contains("1000 more notifications; --all"), "1,079 sent, 79 shown: \(counted.stdout)")
        XCTAssertFalse(counted.stdout.contains("more than"), counted.stdout)
    }
}
