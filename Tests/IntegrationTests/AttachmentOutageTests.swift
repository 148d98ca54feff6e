import Foundation
import IIASAPI
import IIASCrypto
import IIASModel
import IIASTestSupport
import XCTest

/// Attachments between real node processes when the path or the disk fails: bytes
/// corrupted inside the TLS stream drop the link (never a bad chunk stored) and the
/// transfer resumes once the path is clean; a recipient whose disk runs short waits for
/// space, keeps what is durable, shows why, and completes when space returns.
final class AttachmentOutageTests: XCTestCase {
    private var work: URL!
    override func setUpWithError() throws { work = try makeTemporaryDirectory("attach-outage") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    private func iias(_ arguments: [String], _ cluster: NodeCluster, _ center: String) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments + ["--socket", cluster.socketPath(center)], timeout: 120)
    }

    private func makeFile(size: Int) throws -> (path: String, sha256: [UInt8]) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let path = work.appendingPathComponent("evidence.bin").path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return (path, SHA256.hash(bytes))
    }

    private func send(_ file: String, _ cluster: NodeCluster) throws -> UUID {
        let sent = try iias(["send", "--to", "GE", "--category", "terrorism", "--subject", "A file", "--summary", "Attached.",
                             "--attach", file, "--json"], cluster, "AZ")
        XCTAssertEqual(sent.status, 0, sent.stdout + sent.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(sent.stdout.utf8)) as? [String: Any]
        return try XCTUnwrap((object?["id"] as? String).flatMap(UUID.init(uuidString:)), sent.stdout)
    }

    /// GE's view of the attachment: state and chunks held (`iias attachments --json`).
    private func reception(_ id: UUID, _ cluster: NodeCluster) throws -> (state: String, root: String, path: String) {
        let shown = try iias(["attachments", "AZ/" + id.uuidString.lowercased(), "--json"], cluster, "GE")
        let object = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
        guard let row = (object?["attachments"] as? [[String: Any]])?.first, let state = row["state"] as? String,
              let root = row["root"] as? String, let path = row["path"] as? String else { throw TestFailure("no attachment: " + shown.stdout + shown.stderr) }
        return (state, root, path)
    }

    private func savedMatches(_ id: UUID, _ cluster: NodeCluster, sha256: [UInt8]) throws {
        let directory = work.appendingPathComponent("saved").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let read = try iias(["read", id.uuidString.lowercased(), "--save", directory], cluster, "GE")
        XCTAssertEqual(read.status, 0, read.stdout + read.stderr)
        XCTAssertEqual(SHA256.hash(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/evidence.bin")))), sha256, "identical")
    }

    func testBytesCorruptedOnTheWireDropTheLinkAndTheTransferResumesIdentical() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        defer { cluster.stopAll() }
        let proxy = try cluster.faultProxy(from: "AZ", to: "GE", limits: ["retryInitialSeconds": 0.2, "retryMaxSeconds": 0.5, "queueDepth": 1000])
        defer { proxy.send("quit") }
        try cluster.startAll()
        try await eventually("AZ connected through the proxy") { try await cluster.client("AZ").peers().first?.state == .connected }
        let file = try makeFile(size: 6 << 20)
        // Every 50,000th byte inverted: shorter than one chunk's frame (about 65 KiB), so no
        // chunk crosses whole; TLS refuses the record the flip lands in and the link drops.
        XCTAssertTrue(try proxy.command("flip 50000").hasPrefix("ok flip"))
        let id = try send(file.path, cluster)
        try await eventually("the proxy corrupted the stream and the links dropped", timeout: 60) {
            let flipped = Int(try proxy.command("status").split(separator: "=").last ?? "") ?? 0
            return flipped >= 3 && cluster.errorOutput("AZ").contains("link down")
        }
        if let now = try? reception(id, cluster) {
            XCTAssertNotEqual(now.state, "complete", "not complete while every session is corrupted")
            XCTAssertFalse(now.state.hasPrefix("failed"), "corruption under TLS never reaches the attachment: \(now.state)")
        }
        XCTAssertTrue(try proxy.command("pass").hasPrefix("ok pass"))
        try await eventually("GE completes once the path is clean", timeout: 120) { try reception(id, cluster).state == "complete" }
        try savedMatches(id, cluster, sha256: file.sha256)
        let verified = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["log", "verify", cluster.logDirectory("GE")], timeout: 60)
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)
    }

    func testAFullDiskMakesTheRecipientWaitAndItCompletesWhenSpaceReturns() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        defer { cluster.stopAll() }
        // GE's attachments on a file system of their own: 4 MiB, 512 KiB of it kept spare.
        let attachments = (cluster.logDirectory("GE") as NSString).deletingLastPathComponent + "/attachments"
        try FileManager.default.createDirectory(atPath: attachments, withIntermediateDirectories: true)
        guard mount("tmpfs", attachments, "tmpfs", 0, "size=4m,mode=0700") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root): \(String(cString: strerror(errno)))")
        }
        defer { umount2(attachments, Int32(MNT_DETACH)) }
        let limits: [String: Any] = ["limits": ["retryInitialSeconds": 0.2, "retryMaxSeconds": 1.0, "queueDepth": 1000, "attachmentSpareBytes": 512 << 10]]
        try cluster.writeConfiguration("GE", pki: TestPKI.shared.layout, peers: ["AZ"], users: ["\(LocalCluster.currentUser)=operator"], extra: limits)
        // A filler leaves about 1.5 MiB free: room for about 1 MiB of the file beside the spare.
        let filler = attachments + "/filler"
        FileManager.default.createFile(atPath: filler, contents: Data(count: (4 << 20) - (1536 << 10)))
        try cluster.startAll()
        let file = try makeFile(size: 2 << 20)
        let id = try send(file.path, cluster)
        try await eventually("GE waits for space part-way", timeout: 60) { try reception(id, cluster).state.hasPrefix("waiting for space") }
        let waiting = try reception(id, cluster)
        XCTAssertTrue(waiting.state.contains("limits.attachmentSpareBytes"), waiting.state)
        let heldBytes = (try FileManager.default.attributesOfItem(atPath: waiting.path)[.size] as? Int) ?? 0
        XCTAssertGreaterThan(heldBytes, 16, "the chunks that fitted are kept")
        XCTAssertLessThan(heldBytes, (2 << 20), "the file did not fit")
        let read = try iias(["read", id.uuidString.lowercased()], cluster, "GE")
        XCTAssertTrue(read.stdout.contains("waiting for space"), read.stdout)
        try await eventually("AZ shows it waiting on GE", timeout: 30) {
            try self.iias(["outbox", id.uuidString.lowercased()], cluster, "AZ").stdout.contains("GE: waiting: GE holds")
        }

        try FileManager.default.removeItem(atPath: filler)
        try await eventually("GE completes once space returns", timeout: 60) { try reception(id, cluster).state == "complete" }
        try savedMatches(id, cluster, sha256: file.sha256)
        try await eventually("AZ shows it delivered") { try self.iias(["outbox", id.uuidString.lowercased()], cluster, "AZ").stdout.contains("GE: delivered") }
    }
}
