import Foundation
import IIASAPI
import IIASCrypto
import IIASModel
import IIASTestSupport
import IIASTransport
import NIOCore
import XCTest

/// Attachments between real node processes: a file streamed to AZ's node, encrypted once,
/// carried in chunks to each recipient after its notification, resumed after a recipient
/// is killed, never ahead of a flash notification, refused over the limit, and never
/// shown complete once its stored ciphertext is altered (then fetched again).
final class AttachmentTransferTests: XCTestCase {
    private var work: URL!

    override func setUpWithError() throws { work = try makeTemporaryDirectory("attach") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    private static func limits(_ extra: [String: Any] = [:]) -> [String: Any] {
        ["limits": ["retryInitialSeconds": 0.1, "retryMaxSeconds": 1.0, "queueDepth": 1_000_000].merging(extra) { $1 }]
    }

    @discardableResult
    private func iias(_ arguments: [String], _ cluster: NodeCluster, _ center: String) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments + ["--socket", cluster.socketPath(center)], timeout: 300)
    }

    /// A file of `size` bytes that no two runs share (so no cache or dedup helps).
    private func makeFile(_ name: String, size: Int) throws -> String {
        let path = work.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        var generator = SystemRandomNumberGenerator()
        var left = size
        while left > 0 {
            let count = min(left, 1 << 20)
            handle.write(Data((0..<(count / 8 + 1)).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64, Array.init) }.prefix(count)))
            left -= count
        }
        try handle.close()
        return path
    }

    /// Sends `file` from AZ to `recipients`; the notification's id.
    private func send(_ file: String, to recipients: [String], _ cluster: NodeCluster, priority: String = "routine") throws -> UUID {
        let sent = try iias(["send", "--to", recipients.joined(separator: ","), "--category", "terrorism", "--priority", priority,
                             "--subject", "With a file", "--summary", "See the attachment.", "--attach", file, "--json"], cluster, "AZ")
        XCTAssertEqual(sent.status, 0, sent.stdout + sent.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(sent.stdout.utf8)) as? [String: Any]
        return try XCTUnwrap((object?["id"] as? String).flatMap(UUID.init(uuidString:)), sent.stdout)
    }

    /// AZ and GE running, a 64 MiB file `name` sent from AZ to GE and announced there:
    /// the cluster, the file, the notification's id and the attachment's root.
    private func transferUnderWay(_ name: String) async throws -> (NodeCluster, String, UUID, String) {
        let cluster = try NodeCluster(["AZ", "GE"], extra: Self.limits())
        try cluster.startAll()
        let file = try makeFile(name, size: 64 << 20)
        let id = try send(file, to: ["GE"], cluster)
        return (cluster, file, id, try await root(of: id, at: "GE", cluster))
    }

    /// The commitment of the first attachment of `id` as `center` received it.
    private func root(of id: UUID, at center: String, _ cluster: NodeCluster) async throws -> String {
        var found: String?
        try await eventually("\(center) has the notification") {
            found = try await cluster.client(center).read(id, from: CenterID(rawValue: "AZ")).notification.attachments.first?.encryption?.root
            return found != nil
        }
        return try XCTUnwrap(found)
    }

    /// `center`'s record of the attachment: state and chunks held.
    private func reception(_ root: String, at center: String, _ cluster: NodeCluster) async throws -> (state: String, held: Int, chunks: Int) {
        let (status, body) = try await cluster.client(center).raw(.GET, "/v1/attachments/\(root)?sender=AZ")
        guard status == 200, let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let state = object["state"] as? String, let held = object["held"] as? Int, let chunkSize = object["chunkSize"] as? Int,
              let size = object["plaintextBytes"] as? Int else {
            throw TestFailure("no reception: HTTP \(status) \(String(decoding: body, as: UTF8.self))")
        }
        return (state, held, AttachmentEncryption.chunkCount(size: size, chunkSize: chunkSize))
    }

    private func saved(_ id: UUID, at center: String, _ cluster: NodeCluster) throws -> (ProcessRunner.Result, String) {
        let directory = work.appendingPathComponent("saved-\(center)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (try iias(["read", id.uuidString.lowercased(), "--save", directory], cluster, center), directory)
    }

    private func sha256(_ path: String) throws -> [UInt8] {
        SHA256.hash(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    func testA64MiBFileReachesTwoCentersByteForByte() async throws {
        let cluster = try NodeCluster(["AZ", "GE", "UA"], extra: Self.limits())
        try cluster.startAll()
        defer { cluster.stopAll() }
        let file = try makeFile("evidence.bin", size: 64 << 20)
        let id = try send(file, to: ["GE", "UA"], cluster)
        for center in ["GE", "UA"] {
            let root = try await root(of: id, at: center, cluster)
            try await eventually("\(center) holds the whole attachment", timeout: 240) { try await reception(root, at: center, cluster).state == "complete" }
            let (read, directory) = try saved(id, at: center, cluster)
            XCTAssertEqual(read.status, 0, read.stdout + read.stderr)
            XCTAssertTrue(read.stdout.contains("evidence.bin") && read.stdout.contains("complete"), read.stdout)
            XCTAssertEqual(try sha256(directory + "/evidence.bin"), try sha256(file), "\(center): the saved file is the sent one")
            let again = try iias(["read", id.uuidString.lowercased(), "--save", directory], cluster, center)
            XCTAssertEqual(again.status, 0, again.stderr)
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/evidence (2).bin"), "a second save takes a new name")
            XCTAssertEqual(try sha256(directory + "/evidence.bin"), try sha256(file), "the first file is not overwritten")
        }
        try await eventually("AZ's outbox shows both delivered") {
            let outbox = try iias(["outbox", id.uuidString.lowercased()], cluster, "AZ").stdout
            return outbox.contains("GE: delivered") && outbox.contains("UA: delivered")
        }
    }

    func testADraftFileNamesItsAttachmentsByPathBesideAttach() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: Self.limits())
        try cluster.startAll()
        defer { cluster.stopAll() }
        let first = try makeFile("first.bin", size: 70_000), second = try makeFile("second.txt", size: 0)
        let draft = work.appendingPathComponent("draft.json")
        let document: [String: Any] = ["recipients": ["GE"], "category": "terrorism", "subject": "Two files", "summary": "Both attached.",
                                       "attachments": [["path": first, "name": "renamed.bin"]]]
        try JSONSerialization.data(withJSONObject: document).write(to: draft)
        let sent = try iias(["send", "--file", draft.path, "--attach", second, "--json"], cluster, "AZ")
        XCTAssertEqual(sent.status, 0, sent.stdout + sent.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(sent.stdout.utf8)) as? [String: Any]
        let id = try XCTUnwrap((object?["id"] as? String).flatMap(UUID.init(uuidString:)))
        let read = try await cluster.client("GE").read(id, from: CenterID(rawValue: "AZ"))
        XCTAssertEqual(read.notification.attachments.map(\.name), ["renamed.bin", "second.txt"])
        XCTAssertEqual(read.notification.attachments.map(\.mediaType), ["application/octet-stream", "text/plain"])
        for attachment in read.notification.attachments {
            let root = try XCTUnwrap(attachment.encryption?.root)
            try await eventually("GE holds \(attachment.name)") { try await reception(root, at: "GE", cluster).state == "complete" }
        }
        let (saving, directory) = try saved(id, at: "GE", cluster)
        XCTAssertEqual(saving.status, 0, saving.stdout + saving.stderr)
        XCTAssertEqual(try sha256(directory + "/renamed.bin"), try sha256(first))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/second.txt")).count, 0, "an empty file arrives empty")
    }

    func testAKilledRecipientResumesFromItsLastDurableChunk() async throws {
        try await killMidTransferAndResume("GE")
    }

    func testAKilledSenderResumesFromWhatTheRecipientHolds() async throws {
        try await killMidTransferAndResume("AZ")
    }

    /// Sends 64 MiB AZ → GE, kills `victim` with SIGKILL part-way, restarts it: the file
    /// arrives whole, and AZ writes at most a window and a probe more than the chunks
    /// GE still needed.
    private func killMidTransferAndResume(_ victim: String) async throws {
        let (cluster, file, id, root) = try await transferUnderWay("long.bin")
        defer { cluster.stopAll() }
        var heldAtKill = 0, chunks = 0
        try await eventually("GE part-way through", timeout: 120) {
            let now = try await reception(root, at: "GE", cluster)
            (heldAtKill, chunks) = (now.held, now.chunks)
            return now.held > 0
        }
        XCTAssertEqual(cluster.stop(victim, signal: SIGKILL), SIGKILL)
        XCTAssertLessThan(heldAtKill, chunks, "killed before the end")
        if victim == "AZ" { heldAtKill = try await reception(root, at: "GE", cluster).held }
        try cluster.start(victim)
        try await eventually("GE completes after the restart", timeout: 240) { try await reception(root, at: "GE", cluster).state == "complete" }
        let (read, directory) = try saved(id, at: "GE", cluster)
        XCTAssertEqual(read.status, 0, read.stdout + read.stderr)
        XCTAssertEqual(try sha256(directory + "/long.bin"), try sha256(file))
        // AZ counts every chunk it wrote, resends included (since its start, when it was the one killed).
        try await eventually("AZ logs the delivery") { cluster.errorOutput("AZ").contains("attachment delivered") }
        let line = try XCTUnwrap(cluster.errorOutput("AZ").split(separator: "\n").first { $0.contains("attachment delivered") })
        let written = try XCTUnwrap(line.firstRange(of: "chunksWritten=").map { Int(line[$0.upperBound...].prefix { $0.isNumber }) } ?? nil, String(line))
        let needed = victim == "AZ" ? chunks - heldAtKill : chunks
        XCTAssertGreaterThanOrEqual(written, needed)
        XCTAssertLessThanOrEqual(written, needed + 2 * 32, "resent at most a window and a probe per session (window 32): \(line)")
        print("attachment resume (\(victim) killed): \(chunks) chunks, \(written) written, GE held \(heldAtKill) when killed")
    }

    func testAFlashNotificationOvertakesATransfer() async throws {
        let (cluster, _, _, root) = try await transferUnderWay("bulk.bin")
        defer { cluster.stopAll() }
        try await eventually("the transfer under way", timeout: 120) { try await reception(root, at: "GE", cluster).held > 0 }
        let flash = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Flash during a transfer", priority: "flash")).id
        try await eventually("the flash notification at GE", timeout: 30) {
            try await cluster.client("GE").inbox().contains { $0.id == flash }
        }
        let state = try await reception(root, at: "GE", cluster)
        XCTAssertNotEqual(state.state, "complete", "the flash notification arrived before the transfer ended (\(state.held)/\(state.chunks))")
    }

    func testAFileOverTheLimitIsRefusedBeforeAnyByteMoves() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: Self.limits(["maxAttachmentBytes": 1 << 20]))
        try cluster.startAll()
        defer { cluster.stopAll() }
        let file = try makeFile("big.bin", size: (1 << 20) + 1)
        let sent = try iias(["send", "--to", "GE", "--category", "terrorism", "--subject", "Too big", "--summary", "x", "--attach", file], cluster, "AZ")
        XCTAssertEqual(sent.status, 1, sent.stdout + sent.stderr)
        XCTAssertTrue(sent.stderr.contains("limits.maxAttachmentBytes is 1048576 bytes"), sent.stderr)
        let outgoing = try FileManager.default.contentsOfDirectory(atPath: cluster.logDirectory("AZ") + "/../attachments/out")
        XCTAssertEqual(outgoing, [], "nothing stored")
        let outbox = try await cluster.client("AZ").outbox()
        XCTAssertEqual(outbox.count, 0, "nothing sent")
    }

    func testARecipientRefusesAFileOverItsLimitWithItsReceipt() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: Self.limits())
        try cluster.writeConfiguration("GE", pki: TestPKI.shared.layout, peers: ["AZ"], users: ["\(LocalCluster.currentUser)=operator"],
                                       extra: Self.limits(["maxAttachmentBytes": 1 << 20]))
        try cluster.startAll()
        defer { cluster.stopAll() }
        let file = try makeFile("large.bin", size: 2 << 20)
        let id = try send(file, to: ["GE"], cluster)
        let root = try await root(of: id, at: "GE", cluster)
        try await eventually("AZ shows GE's refusal") {
            try iias(["outbox", id.uuidString.lowercased()], cluster, "AZ").stdout.contains("GE: refused: 2097152 bytes is over this node's limits.maxAttachmentBytes (1048576 bytes)")
        }
        let state = try await reception(root, at: "GE", cluster).state
        XCTAssertEqual(state, "failed")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.logDirectory("GE") + "/../attachments/in/AZ-\(root).ct"), "no chunk stored")
        let line = cluster.errorOutput("AZ").split(separator: "\n").first { $0.contains("attachment refused") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains("chunksWritten=0"), "refused with the receipt, before any chunk moved: \(line)")
    }

    /// AZ and GE running (with `limits`), a file `name` of `size` bytes sent AZ → GE and
    /// held whole there: the cluster, the file, the notification's id and the root.
    private func delivered(_ name: String, size: Int, limits: [String: Any] = [:]) async throws -> (NodeCluster, String, UUID, String) {
        let cluster = try NodeCluster(["AZ", "GE"], extra: Self.limits(limits))
        try cluster.startAll()
        do {
            let file = try makeFile(name, size: size)
            let id = try send(file, to: ["GE"], cluster)
            let root = try await root(of: id, at: "GE", cluster)
            try await eventually("GE holds it") { try await reception(root, at: "GE", cluster).state == "complete" }
            return (cluster, file, id, root)
        } catch {
            cluster.stopAll()
            throw error
        }
    }

    func testAChunkAlteredOnTheRecipientsDiskIsNeverShownCompleteAndIsFetchedAgain() async throws {
        let (cluster, file, id, root) = try await delivered("small.bin", size: 300_000)
        defer { cluster.stopAll() }
        try await eventually("AZ's outbox shows it delivered") { try iias(["attachments", id.uuidString.lowercased()], cluster, "AZ").stdout.contains("GE: delivered") }
        for center in ["AZ", "GE"] {
            let verified = try auditStoredAttachments(center, cluster)
            XCTAssertEqual(verified.status, 0, "\(center): " + verified.stdout + verified.stderr)
            XCTAssertTrue(verified.stdout.contains("attachments checked: 1"), verified.stdout)
        }
        let opened = try openStoredAttachments("GE", cluster)
        XCTAssertEqual(opened.status, 0, opened.stdout + opened.stderr)
        XCTAssertTrue(opened.stdout.contains("attachments opened: 1"), opened.stdout)
        let shown = try iias(["attachments", String(id.uuidString.lowercased().prefix(8)), "--json"], cluster, "GE")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any], shown.stdout + shown.stderr)
        let row = try XCTUnwrap((object["attachments"] as? [[String: Any]])?.first)
        XCTAssertEqual(row["name"] as? String, "small.bin")
        XCTAssertEqual(row["sha256"] as? String, try sha256(file).hexString)
        XCTAssertEqual(row["root"] as? String, root)
        XCTAssertEqual(row["chunkCount"] as? Int, 5)
        XCTAssertEqual(row["state"] as? String, "complete")
        let stored = try XCTUnwrap(row["path"] as? String)

        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: stored))
        try handle.seek(toOffset: 100_000)  // in chunk 1 (each chunk is 65,552 bytes after the 16-byte nonce)
        let byte = try XCTUnwrap(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: 100_000)
        handle.write(Data([byte ^ 0x01]))
        try handle.close()
        let audited = try auditStoredAttachments("GE", cluster)
        XCTAssertEqual(audited.status, 1, "the keyless audit finds the altered file: " + audited.stdout)
        XCTAssertTrue(audited.stdout.contains("in/AZ-\(root).ct") && audited.stdout.contains("altered"), audited.stdout)
        let keyed = try openStoredAttachments("GE", cluster)
        XCTAssertEqual(keyed.status, 1, "GE's keys find it does not open: " + keyed.stdout)
        XCTAssertTrue(keyed.stdout.contains("small.bin: does not open to the sealed file"), keyed.stdout)

        let (read, directory) = try saved(id, at: "GE", cluster)
        XCTAssertEqual(read.status, 1, read.stdout + read.stderr)
        XCTAssertTrue(read.stdout.contains("failed: chunk 1 of the stored ciphertext is altered; re-fetching from chunk 1 from AZ"), read.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }, [], "nothing saved")
        try await eventually("GE fetched it again from AZ") { try await reception(root, at: "GE", cluster).state == "complete" }
        let (again, _) = try saved(id, at: "GE", cluster)
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertEqual(try sha256(directory + "/small.bin"), try sha256(file), "the re-fetched file is the sent one")
        XCTAssertEqual(try auditStoredAttachments("GE", cluster).status, 0)
        XCTAssertTrue(cluster.errorOutput("AZ").contains("attachment re-requested"), "AZ sent it again on GE's request")
    }

    func testWithNoRetentionTheSenderReleasesItsCopyAndRefusesARefetch() async throws {
        let (cluster, _, id, root) = try await delivered("released.bin", size: 200_000, limits: ["sentAttachmentRetentionDays": 0])
        defer { cluster.stopAll() }
        let sentCopy = cluster.logDirectory("AZ") + "/../attachments/out/\(root).ct"
        try await eventually("AZ released its copy") { !FileManager.default.fileExists(atPath: sentCopy) }
        let verified = try auditStoredAttachments("AZ", cluster)
        XCTAssertEqual(verified.status, 0, "a released copy is not missing: " + verified.stdout + verified.stderr)
        XCTAssertTrue(verified.stdout.contains("1 sent released after delivery"), verified.stdout)
        XCTAssertTrue(try iias(["attachments", id.uuidString.lowercased()], cluster, "AZ").stdout.contains("GE: delivered"))

        let stored = cluster.logDirectory("GE") + "/../attachments/in/AZ-\(root).ct"
        XCTAssertEqual(truncate(stored, 70_000), 0)  // cut inside chunk 1
        let (read, _) = try saved(id, at: "GE", cluster)
        XCTAssertEqual(read.status, 1, read.stdout + read.stderr)
        try await eventually("GE shows the sender's refusal") {
            try iias(["attachments", id.uuidString.lowercased()], cluster, "GE").stdout.contains("failed: the sender no longer holds it")
        }
        let refused = try await reception(root, at: "GE", cluster)
        XCTAssertEqual(refused.state, "failed")
        XCTAssertTrue(cluster.errorOutput("AZ").contains("released after delivery"), "AZ logged why it did not send it again")
    }

    /// `iias audit attachments DATA/log` with `center`'s keys: every stored attachment opened and checked.
    private func openStoredAttachments(_ center: String, _ cluster: NodeCluster) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "attachments", cluster.logDirectory(center),
                                                               "--key-dir", TestPKI.shared.centerDirectory(center), "--crl", TestPKI.shared.crlFile], timeout: 60)
    }

    /// `iias log verify DATA/log` at `center`, without any key.
    private func auditStoredAttachments(_ center: String, _ cluster: NodeCluster) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["log", "verify", cluster.logDirectory(center)], timeout: 60)
    }

    func testGarbageInAChunkFrameClosesThatConnectionAndTheNodeGoesOn() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: Self.limits())
        try cluster.start("GE")
        defer { cluster.stopAll() }
        let port = try XCTUnwrap(cluster.ports["GE"])
        var (channel, frames) = try await TestPeer.connect(as: "AZ", port: port, expecting: "GE")
        try await channel.writeAndFlush(Frame.attachment(.chunk, [1, 2, 3])).get()
        var answer = await frames.next()
        while case .hello? = answer { answer = await frames.next() }
        guard case .error(let code, let reason)? = answer else { return XCTFail("expected ERROR, got \(String(describing: answer))") }
        XCTAssertEqual(code, 1)
        XCTAssertTrue(reason.contains("bad attachment frame"), reason)
        while await frames.next() != nil {}  // the node closes that connection

        // A well-formed chunk of an attachment no notification announced: refused, on a new connection.
        (channel, frames) = try await TestPeer.connect(as: "AZ", port: port, expecting: "GE")
        let root = [UInt8](repeating: 7, count: 32)
        try await channel.writeAndFlush(Frame.attachment(.chunk, root + [0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 32))).get()
        answer = await frames.next()
        while case .hello? = answer { answer = await frames.next() }
        guard case .attachment(.attachmentEnd, let body)? = answer else { return XCTFail("expected ATTACHMENT_END, got \(String(describing: answer))") }
        XCTAssertEqual(Array(body.prefix(33)), root + [1])
        XCTAssertTrue(String(decoding: body.dropFirst(33), as: UTF8.self).contains("no notification from AZ"))
        try await channel.close()
        let status = try await cluster.client("GE").status()
        XCTAssertEqual(status.logEntries, 0, "the node answers and logged nothing")
    }
}
