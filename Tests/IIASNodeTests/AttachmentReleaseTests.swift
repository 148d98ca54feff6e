import Foundation
import IIASCrypto
import IIASModel
@testable import IIASNode
import Logging
import XCTest

/// Sent ciphertext on real files: kept while any recipient still waits for it, removed
/// once every recipient ended its transfer (delivered or refused), the record kept for
/// the outbox; a start finds and removes what a crash left between the two steps.
final class AttachmentReleaseTests: TemporaryDirectoryTestCase {
    private let ge = CenterID(rawValue: "GE")!, ua = CenterID(rawValue: "UA")!

    private func center() throws -> AttachmentCenter { try AttachmentCenter(dataDirectory: work, limit: 4 << 20, logger: Logger(label: "test")) }

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

    func testCiphertextStaysWhileARecipientWaitsAndGoesWhenAllEnded() throws {
        let center = try center()
        let (root, envelope) = try sent(center)
        let hex = root.hexString
        XCTAssertEqual(try files(), [hex + ".ct", hex + ".hashes", hex + ".json"])
        center.sender(for: ge).received(.end(root: root, complete: true, reason: ""))
        XCTAssertEqual(try files(), [hex + ".ct", hex + ".hashes", hex + ".json"], "UA still waits: the ciphertext stays")

        // A restart while UA waits keeps everything, and UA's transfer is due again.
        let restarted = try self.center()
        XCTAssertEqual(try files(), [hex + ".ct", hex + ".hashes", hex + ".json"])
        restarted.resume { _, _ in true }
        XCTAssertEqual(restarted.sender(for: ua).framesToSend().count, 1, "UA's probe reads the ciphertext")

        restarted.sender(for: ua).received(.end(root: root, complete: false, reason: "not enough space"))
        XCTAssertEqual(try files(), [hex + ".json"], "both ended: only the record stays")
        let states = restarted.outgoingStates(of: envelope).first?.recipients.map { "\($0.center) \($0.state)" }
        XCTAssertEqual(states, ["GE delivered", "UA refused: not enough space"], "the outbox still tells")
        XCTAssertEqual(try self.center().outgoingStates(of: envelope).first?.recipients.map(\.state), ["delivered", "refused: not enough space"])
    }

    func testAStartRemovesWhatACrashLeftAfterTheRecordSaidAllEnded() throws {
        let center = try center()
        let (root, _) = try sent(center)
        let hex = root.hexString
        // As a crash between the durable record and the removal leaves it: all ended, files still there.
        let path = work + "/attachments/out/" + hex + ".json"
        var record = try JSONDecoder().decode(OutgoingAttachment.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        record.recipients = ["GE": "delivered", "UA": "delivered"]
        try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: path))
        FileManager.default.createFile(atPath: work + "/attachments/out/upload-left-over.ct", contents: Data([1]))
        _ = try self.center()
        XCTAssertEqual(try files(), [hex + ".json"], "the ciphertext, its hashes and an unnamed upload are gone")
    }
}
