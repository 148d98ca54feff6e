import Foundation
import IIASCrypto
import IIASModel
@testable import IIASNode
import IIASTransport
import Logging
import Synchronization
import XCTest

/// Sent ciphertext on real files: kept while any recipient still waits for it and for
/// the retention after every recipient ended, then released — a `released` log record,
/// the record marked, the files removed — with the outbox record kept; a re-fetch after
/// release is refused; a start removes what a crash left between record and removal.
final class AttachmentReleaseTests: TemporaryDirectoryTestCase {
    private let ge = CenterID(rawValue: "GE")!, ua = CenterID(rawValue: "UA")!
    /// The attachment log records the center asked to append, in order.
    private final class Logged: Sendable {
        let records = Mutex<[AttachmentLogRecord]>([])
        /// False: the log refuses appends (a full or failing disk).
        let accepting = Mutex(true)
    }
    private let logged = Logged()

    private func center(retentionDays: Double = 30) throws -> AttachmentCenter {
        let center = try AttachmentCenter(dataDirectory: work, limit: 4 << 20, sentRetention: retentionDays * 86_400, logger: Logger(label: "test"))
        center.recordInLog(as: CenterID(rawValue: "AZ")!) { [logged] records in
            guard logged.accepting.withLock({ $0 }) else { return false }
            logged.records.withLock { $0 += records }
            return true
        }
        return center
    }

    /// A 3-byte attachment of a notification to GE and UA: its root and envelope.
    private func sent(_ center: AttachmentCenter) throws -> (root: [UInt8], envelope: UUID) {
        let id = try center.beginUpload(bytes: 3)
        try XCTUnwrap(center.upload(id)).append([7, 8, 9], at: 0)
        let root = try center.finishUpload(id).seal.root
        let envelope = UUID()
        center.submitted(roots: [root.hexString], envelope: envelope, recipients: [ge, ua])
        return (root, envelope)
    }

    private func files() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: work + "/attachments/out").sorted() }

    private func releasedRoots() -> [String] { logged.records.withLock { $0.filter { $0.direction == .released }.map(\.root) } }

    /// Waits (up to 10 s) until `condition` holds.
    private func wait(_ what: String, until condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while try !condition() {
            guard Date() < deadline else { return XCTFail("not within 10 s: \(what)") }
            usleep(20_000)
        }
    }

    private func endBoth(_ center: AttachmentCenter, _ root: [UInt8]) {
        center.sender(for: ge).received(.end(root: root, complete: true, reason: ""))
        center.sender(for: ua).received(.end(root: root, complete: false, reason: "not enough space"))
    }

    func testCiphertextStaysWhileARecipientWaitsAndForTheRetentionAfter() async throws {
        let center = try center()
        let (root, envelope) = try sent(center)
        let hex = root.hexString, all = [hex + ".ct", hex + ".hashes", hex + ".json"]
        center.sender(for: ge).received(.end(root: root, complete: true, reason: ""))
        XCTAssertEqual(try files(), all, "UA still waits: the ciphertext stays")

        // A restart while UA waits keeps everything, and UA's transfer is due again.
        let restarted = try self.center()
        XCTAssertEqual(try files(), all)
        restarted.resume { _, _ in true }
        XCTAssertEqual(restarted.sender(for: ua).framesToSend().count, 1, "UA's probe reads the ciphertext")
        restarted.sender(for: ua).received(.end(root: root, complete: false, reason: "not enough space"))
        await restarted.releaseExpired(now: Date().addingTimeInterval(29 * 86_400))
        XCTAssertEqual(try files(), all, "both ended, but within 30 days: the ciphertext stays")
        XCTAssertEqual(releasedRoots(), [])

        // Within the retention a damaged copy is fetched again.
        restarted.sender(for: ge).received(.ack(root: root, held: 0))
        XCTAssertEqual(restarted.outgoingStates(of: envelope).first?.recipients.map(\.state), ["waiting", "refused: not enough space"])
        XCTAssertEqual(restarted.sender(for: ge).framesToSend().count, 1, "GE's re-fetch reads the ciphertext")
        restarted.sender(for: ge).received(.end(root: root, complete: true, reason: ""))

        await restarted.releaseExpired(now: Date().addingTimeInterval(31 * 86_400))
        XCTAssertEqual(try files(), [hex + ".json"], "past the retention: only the record stays")
        XCTAssertEqual(releasedRoots(), [hex], "the release is logged once")
        await restarted.releaseExpired(now: Date().addingTimeInterval(32 * 86_400))
        XCTAssertEqual(releasedRoots(), [hex], "and not again")
        let states = restarted.outgoingStates(of: envelope).first?.recipients.map { "\($0.center) \($0.state)" }
        XCTAssertEqual(states, ["GE delivered", "UA refused: not enough space"], "the outbox still tells")
        XCTAssertEqual(try self.center().outgoingStates(of: envelope).first?.recipients.map(\.state), ["delivered", "refused: not enough space"])
    }

    func testRetentionZeroReleasesAtOnceAndARefetchIsRefused() throws {
        let center = try center(retentionDays: 0)
        let (root, envelope) = try sent(center)
        let hex = root.hexString
        endBoth(center, root)
        try wait("the files released") { try files() == [hex + ".json"] }
        XCTAssertEqual(releasedRoots(), [hex], "logged before the removal")
        let record = try JSONDecoder().decode(OutgoingAttachment.self, from: Data(contentsOf: URL(fileURLWithPath: work + "/attachments/out/" + hex + ".json")))
        XCTAssertEqual(record.released, true, "the record says so, durably")

        // GE's copy is damaged and it asks again: the answer is a refusal, not a chunk.
        center.sender(for: ge).received(.ack(root: root, held: 0))
        let answer = try center.sender(for: ge).framesToSend().map { try AttachmentFrame.parse($0.type, FrameCodec.body(of: $0)) }
        XCTAssertEqual(answer, [.end(root: root, complete: false, reason: "the sender no longer holds it")])
        XCTAssertEqual(center.outgoingStates(of: envelope).first?.recipients.map(\.state), ["delivered", "refused: not enough space"])
        XCTAssertTrue(center.sender(for: ge).framesToSend().isEmpty, "refused once")
        // A peer that was never a recipient is not answered at all.
        center.sender(for: CenterID(rawValue: "MD")!).received(.ack(root: root, held: 0))
        XCTAssertTrue(center.sender(for: CenterID(rawValue: "MD")!).framesToSend().isEmpty)
    }

    func testAStartRemovesWhatACrashLeftAfterTheReleaseRecordAndKeepsWhatIsRetained() throws {
        let center = try center()
        let (root, _) = try sent(center)
        let hex = root.hexString
        let path = work + "/attachments/out/" + hex + ".json"
        var record = try JSONDecoder().decode(OutgoingAttachment.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        record.recipients = ["GE": "delivered", "UA": "delivered"]
        record.endedAt = Date()
        try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: path))
        FileManager.default.createFile(atPath: work + "/attachments/out/upload-left-over.ct", contents: Data([1]))
        _ = try self.center()
        XCTAssertEqual(try files(), [hex + ".ct", hex + ".hashes", hex + ".json"], "all ended, within the retention: kept; the unnamed upload is gone")

        // As a crash between the durable release and the removal leaves it.
        record.released = true
        try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: path))
        _ = try self.center()
        XCTAssertEqual(try files(), [hex + ".json"], "the ciphertext and its hashes are gone")
    }

    /// A release whose record the log refuses removes nothing (an auditor would find the
    /// files missing with no record saying why); the next pass, with the log back, does.
    func testNothingIsRemovedWhileTheLogRefusesTheReleaseRecord() async throws {
        let center = try center(retentionDays: 0)
        let (root, _) = try sent(center)
        let hex = root.hexString
        logged.accepting.withLock { $0 = false }
        endBoth(center, root)
        await center.releaseExpired()
        XCTAssertEqual(try files(), [hex + ".ct", hex + ".hashes", hex + ".json"], "no durable record: the files stay")
        XCTAssertEqual(releasedRoots(), [])
        logged.accepting.withLock { $0 = true }
        await center.releaseExpired()
        XCTAssertEqual(try files(), [hex + ".json"])
        XCTAssertEqual(releasedRoots(), [hex])
    }
}
