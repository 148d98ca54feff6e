import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// What an operator sees of a notification, and the handling a reply carries, with real
/// node processes: `read` at the recipient shows every field of a full request (compared
/// with a golden file), `open` of the same document renders the same, and a reply never
/// carries weaker handling than the request unless the operator says so, which is logged.
final class DeskReadTests: XCTestCase {
    /// A fixed width and no colour: the golden file is what a 100-column terminal shows.
    private let terminal = ["COLUMNS": "100", "NO_COLOR": "1"]

    private func iias(_ arguments: [String], stdin: String? = nil) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, stdin: stdin.map { Array($0.utf8) }, environment: terminal, timeout: 60)
    }

    /// The model's full fixture (every entity type, TLP:RED H0–H3 with restrictions and a
    /// classification, evaluation B2, two attachments) as a request from AZ to GE, with a
    /// deadline three days after now.
    private func fullRequest() throws -> [String: Any] {
        let url = RepositoryPaths.root.appendingPathComponent("Tests/IIASModelTests/Fixtures/valid/full-every-entity-type.json")
        var draft = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        draft["sender"] = "AZ"
        draft["recipients"] = ["GE"]
        draft["created"] = nil
        draft["responseDeadline"] = Timestamp.formatWithMilliseconds(Date().addingTimeInterval(3 * 86_400))
        draft["validUntil"] = Timestamp.formatWithMilliseconds(Date().addingTimeInterval(30 * 86_400))
        return draft
    }

    /// Times the node or the clock chose become `<time>`, the time left `<left>`.
    private func normalized(_ text: String) -> String {
        var text = text.replacingOccurrences(of: #"\d{4}-\d\d-\d\d \d\d:\d\dZ"#, with: "<time>", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\((\d+[dhm] ?)+ left\)"#, with: "(<left>)", options: .regularExpression)
        return text
    }

    /// The rendering without the rows about one copy (`read`: received, state; `open`: the envelope's hash).
    private func notificationPart(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !($0.hasPrefix("received ") || $0.hasPrefix("state ") || $0.hasPrefix("envelope sha256 ")) }
            .joined(separator: "\n")
    }

    func testReadShowsEveryFieldAsTheGoldenFileAndOpenShowsTheSame() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.startAll()
        let draft = try fullRequest()
        let submission = try await cluster.client("AZ").submit(draft)
        try await eventually("delivered to GE") {
            try await cluster.client("GE").inbox().contains { $0.id == submission.id }
        }
        let read = try iias(["read", "7c9e6679", "--socket", cluster.socketPath("GE")])
        XCTAssertEqual(read.status, 0, read.stderr)
        XCTAssertFalse(read.stdout.contains("\u{1B}["), "no colour with NO_COLOR and a pipe")
        let shown = normalized(read.stdout)
        let golden = RepositoryPaths.root.appendingPathComponent("Tests/IntegrationTests/Golden/read-full-request.txt")
        if ProcessInfo.processInfo.environment["IIAS_UPDATE_GOLDEN"] == "1" { try Data(shown.utf8).write(to: golden) }
        XCTAssertEqual(shown, try String(contentsOf: golden, encoding: .utf8),
                       "iias read differs from \(golden.lastPathComponent) (IIAS_UPDATE_GOLDEN=1 rewrites it after a deliberate change)")
        for field in ["H2: not to be passed on", "Do not contact the consignee", "ЦІЛКОМ ТАЄМНО", "B2: source mostly reliable",
                      "Giorgi Beridze", "Kartli Fruit Trading LLC", "WDB9634031L123456", "13AB45678", "Port of Poti",
                      "Bandar Abbas (IR) → Poti (GE)", "manifest.pdf", "photo 1.jpg", "3f2c1b9a-8d7e-4c6b-9a5f-1e2d3c4b5a69"] {
            XCTAssertTrue(read.stdout.contains(field), "read shows \(field)")
        }

        // The same document sealed offline and opened as GE: the same rendering.
        let work = try makeTemporaryDirectory("desk-read")
        defer { try? FileManager.default.removeItem(at: work) }
        var offline = draft
        offline["created"] = Timestamp.formatWithMilliseconds(Date())
        let documentPath = work.appendingPathComponent("request.json").path, envelopePath = work.appendingPathComponent("request.iias").path
        try JSONSerialization.data(withJSONObject: offline).write(to: URL(fileURLWithPath: documentPath))
        let pki = TestPKI.shared
        let sealed = try iias(["compose", "--file", documentPath, "--seal", "--out", envelopePath,
                               "--key-dir", pki.centerDirectory("AZ"), "--crl", pki.crlFile])
        XCTAssertEqual(sealed.status, 0, sealed.stderr)
        let opened = try iias(["open", envelopePath, "--key-dir", pki.centerDirectory("GE"), "--crl", pki.crlFile])
        XCTAssertEqual(opened.status, 0, opened.stderr)
        XCTAssertTrue(opened.stdout.contains("envelope sha256 "), opened.stdout)
        XCTAssertEqual(notificationPart(normalized(opened.stdout)), notificationPart(shown), "open and read render alike")
    }

    func testAReplyKeepsTheRequestsHandlingAndOnlyAnExplicitLoggedFlagWeakensIt() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.startAll()
        var draft = LocalCluster.draft(to: ["GE"], subject: "Courier on the Baku–Tbilisi train")
        draft["kind"] = "request"
        draft["handling"] = ["tlp": "TLP:RED", "codes": ["H2"]]
        draft["responseDeadline"] = Timestamp.formatWithMilliseconds(Date().addingTimeInterval(86_400))
        let request = try await cluster.client("AZ").submit(draft)
        try await eventually("the request at GE") { try await cluster.client("GE").inbox().contains { $0.id == request.id } }
        let ge = ["--socket", cluster.socketPath("GE")], prefix = String(request.id.uuidString.lowercased().prefix(8))

        // The CLI's default label (TLP:AMBER) and a script's TLP:CLEAR are both raised by the node.
        let plain = try iias(["reply", prefix, "--summary", "Seen at the border at 04:10.", "--json"] + ge)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let plainID = try APIJSON.decoder().decode(Submission.self, from: Data(plain.stdout.utf8)).id
        var script = LocalCluster.draft(to: ["AZ"], subject: "Re: courier")
        script["handling"] = ["tlp": "TLP:CLEAR"]
        let scriptID = try await cluster.client("GE").reply(to: request.id, script).id

        // An explicitly weaker --tlp without the flag is refused, and nothing is sent.
        let refused = try iias(["reply", prefix, "--tlp", "TLP:GREEN", "--summary", "…"] + ge)
        XCTAssertEqual(refused.status, 2, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("--weaken-handling") && refused.stderr.contains("TLP:RED H2"), refused.stderr)

        let weakened = try iias(["reply", prefix, "--weaken-handling", "--tlp", "TLP:AMBER", "--summary", "Shareable part.", "--json"] + ge)
        XCTAssertEqual(weakened.status, 0, weakened.stderr)
        XCTAssertTrue(weakened.stderr.contains("handling weakened: TLP:RED H2 → TLP:AMBER"), weakened.stderr)
        let weakenedID = try APIJSON.decoder().decode(Submission.self, from: Data(weakened.stdout.utf8)).id
        let outbox = try await cluster.client("GE").outbox()
        XCTAssertEqual(Set(outbox.map(\.id)), [plainID, scriptID, weakenedID], "the refused reply was not sent")

        try await eventually("three replies at AZ") { try await cluster.client("AZ").inbox().filter { $0.kind == .reply }.count == 3 }
        for id in [plainID, scriptID] {
            let handling = try await cluster.client("AZ").read(id).notification.handling
            XCTAssertEqual(handling.tlp, .red, "a reply inherits TLP:RED")
            XCTAssertEqual(handling.codes, [.h2], "a reply inherits H2")
        }
        let explicit = try await cluster.client("AZ").read(weakenedID).notification.handling
        XCTAssertEqual(explicit, Handling(tlp: .amber), "what the operator explicitly chose")
        let listed = try await cluster.client("AZ").inbox().first { $0.id == plainID }
        XCTAssertEqual(listed?.tlp, .red, "the inbox lists the TLP")

        // AZ's update of its own request, sent with the CLI's default label, goes as TLP:RED/H2 too.
        let update = try iias(["send", "--kind", "update", "--reference", request.id.uuidString.lowercased(), "--to", "GE",
                               "--category", "terrorism", "--subject", "Courier changed trains", "--summary", "Now on the 22:40.", "--json",
                               "--socket", cluster.socketPath("AZ")])
        XCTAssertEqual(update.status, 0, update.stderr)
        let updateID = try APIJSON.decoder().decode(Submission.self, from: Data(update.stdout.utf8)).id
        try await eventually("the update at GE") { try await cluster.client("GE").inbox().contains { $0.id == updateID } }
        let updated = try await cluster.client("GE").read(updateID).notification.handling
        XCTAssertEqual(updated, Handling(tlp: .red, codes: [.h2]), "an update inherits its request's handling")
        let sentUpdate = try await cluster.client("AZ").delivery(of: updateID)
        XCTAssertEqual(sentUpdate.tlp, .red, "the outbox lists the TLP")
        XCTAssertEqual(sentUpdate.kind, .update, "the outbox lists the kind")

        // The listings show TLP and kind: GE's inbox, AZ's outbox.
        let inbox = try iias(["inbox"] + ge)
        XCTAssertEqual(inbox.status, 0, inbox.stderr)
        let requestRow = inbox.stdout.split(separator: "\n").first { $0.contains("Courier on the Baku") }
        XCTAssertTrue(inbox.stdout.hasPrefix("ID") && inbox.stdout.contains("TLP") && inbox.stdout.contains("KIND"), inbox.stdout)
        XCTAssertTrue(requestRow.map { $0.contains("TLP:RED") && $0.contains("request") } ?? false, inbox.stdout)
        let outboxTable = try iias(["outbox", "--socket", cluster.socketPath("AZ")])
        let updateRow = outboxTable.stdout.split(separator: "\n").first { $0.contains("Courier changed trains") }
        XCTAssertTrue(updateRow.map { $0.contains("TLP:RED") && $0.contains("update") } ?? false, outboxTable.stdout)

        // GE's signed log records the one explicit weakening, on that reply's submission.
        let actions = try operatorActions(in: cluster.logDirectory("GE"))
        XCTAssertEqual(actions.filter { $0.weakenedHandling == true }.map(\.envelope), [weakenedID])
        XCTAssertEqual(Set(actions.filter { $0.action == .submit }.map(\.envelope)), [plainID, scriptID, weakenedID])
        _ = cluster.stop("GE")
        let verify = try iias(["log", "verify", cluster.logDirectory("GE")])
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
    }

    /// Every operator action in a node's log segments, read as an auditor reads the bytes.
    private func operatorActions(in directory: String) throws -> [OperatorAction] {
        var actions: [OperatorAction] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(file)))
            var start = bytes.startIndex
            // Each action is a JSON object starting {"action": in the record's payload.
            while let found = bytes[start...].firstRange(of: Array(#"{"action":"#.utf8)) {
                var depth = 0, end = found.lowerBound
                for index in found.lowerBound..<bytes.endIndex {
                    if bytes[index] == UInt8(ascii: "{") { depth += 1 }
                    if bytes[index] == UInt8(ascii: "}") { depth -= 1; if depth == 0 { end = index + 1; break } }
                }
                if let action = OperatorAction(json: Array(bytes[found.lowerBound..<end])) { actions.append(action) }
                start = max(end, found.upperBound)
            }
        }
        return actions
    }
}
