import Foundation
import IIASAudit
import IIASCrypto
import IIASLog
import IIASModel
import IIASTestSupport
import XCTest

/// The keyless check of stored attachments: a real log holding attachment records, real
/// ciphertext files beside it, and each kind of damage named; the record's reader takes
/// only its own exact shape.
final class StoredAttachmentAuditTests: XCTestCase {
    private var work: URL!
    override func setUpWithError() throws { work = try makeTemporaryDirectory("stored-attachments") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    /// Encrypts `size` bytes in 1 KiB chunks into DIR/attachments/PATH; the record naming it.
    private func store(size: Int, direction: AttachmentLogRecord.Direction) throws -> (AttachmentLogRecord, [UInt8]) {
        let plain = work.appendingPathComponent("plain-\(size)").path
        FileManager.default.createFile(atPath: plain, contents: Data((0..<size).map { UInt8(truncatingIfNeeded: $0 * 13) }))
        var ciphertext: [UInt8] = []
        let seal = try AttachmentEncryptor(chunkSize: 1024).encrypt(reading: XCTUnwrap(FileHandle(forReadingAtPath: plain))) { ciphertext += Array($0) }
        let record = AttachmentLogRecord(direction: direction, sender: CenterID(rawValue: "AZ")!, envelope: UUID(), index: 0,
                                         ciphertextBytes: ciphertext.count, chunkSize: 1024, root: seal.root.hexString)
        let path = work.appendingPathComponent("attachments/" + record.storedPath)
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(ciphertext).write(to: path)
        return (record, ciphertext)
    }

    func testEveryStoredFileIsCheckedAgainstItsLoggedRootAndEachDamageNamed() async throws {
        let log = try LogStore(directory: work.appendingPathComponent("log").path)
        let intact = try store(size: 3000, direction: .received), sent = try store(size: 0, direction: .sent)
        let altered = try store(size: 2048, direction: .received), truncated = try store(size: 5000, direction: .received)
        let extended = try store(size: 100, direction: .received), missing = try store(size: 10, direction: .received)
        for (record, _) in [intact, sent, altered, truncated, extended, missing, intact] {
            _ = try await log.append(type: .operatorAction, payload: record.encoded())
        }
        _ = try await log.append(type: .operatorAction, payload: Array("{\"action\":\"read\"}".utf8))
        let directory = work.appendingPathComponent("attachments").path
        func damage(_ record: AttachmentLogRecord, _ change: (inout [UInt8]) -> Void) throws {
            let url = URL(fileURLWithPath: directory + "/" + record.storedPath)
            var bytes = Array(try Data(contentsOf: url))
            change(&bytes)
            try Data(bytes).write(to: url)
        }
        try damage(altered.0) { $0[1500] ^= 0x80 }
        try damage(truncated.0) { $0.removeLast(100) }
        try damage(extended.0) { $0.append(0) }
        try FileManager.default.removeItem(atPath: directory + "/" + missing.0.storedPath)

        let audit = StoredAttachmentAudit.run(log, attachmentsDirectory: directory)
        XCTAssertEqual(audit.checked, 6, "one check per stored file, however often it is logged")
        let found = Dictionary(uniqueKeysWithValues: audit.problems.map { ($0.root, $0.why) })
        XCTAssertEqual(found.count, 4)
        XCTAssertEqual(found[altered.0.root], "altered: its chunks do not hash to the logged root")
        XCTAssertTrue(found[truncated.0.root]?.hasPrefix("truncated: \(truncated.1.count - 100) of \(truncated.1.count) bytes (chunk 4 incomplete)") == true,
                      found[truncated.0.root] ?? "")
        XCTAssertEqual(found[extended.0.root], "extended: 1 bytes past its logged size of \(extended.1.count)")
        XCTAssertEqual(found[missing.0.root], "missing")
        XCTAssertNil(found[intact.0.root])
        XCTAssertNil(found[sent.0.root], "an empty file's one empty chunk checks too")
        log.close()
    }

    func testASentCopyReleasedAfterDeliveryIsCountedNotMissing() async throws {
        let log = try LogStore(directory: work.appendingPathComponent("log").path)
        let released = try store(size: 3000, direction: .sent).0, kept = try store(size: 2000, direction: .sent).0
        let lost = try store(size: 1000, direction: .sent).0
        var release = released
        release.direction = .released
        XCTAssertEqual(AttachmentLogRecord(json: release.encoded()), release, "the release record reads back")
        for record in [released, kept, lost, release] { _ = try await log.append(type: .operatorAction, payload: record.encoded()) }
        let directory = work.appendingPathComponent("attachments").path
        for record in [released, lost] { try FileManager.default.removeItem(atPath: directory + "/" + record.storedPath) }

        let audit = StoredAttachmentAudit.run(log, attachmentsDirectory: directory)
        XCTAssertEqual(audit.checked, 2, "the kept copy and the lost one")
        XCTAssertEqual(audit.released, 1)
        XCTAssertEqual(audit.problems.map(\.root), [lost.root], "a copy removed without a release record is missing")
        XCTAssertEqual(audit.problems.first?.why, "missing")
        log.close()
    }

    func testTheRecordReaderTakesOnlyItsOwnShape() throws {
        let record = AttachmentLogRecord(direction: .sent, sender: CenterID(rawValue: "UA-SBU")!, envelope: UUID(), index: 2,
                                         ciphertextBytes: 65_568, chunkSize: 65_536, root: String(repeating: "0f", count: 32))
        XCTAssertEqual(AttachmentLogRecord(json: record.encoded()), record)
        XCTAssertEqual(record.chunkCount, 1, "one full chunk: 16 + 65,536 + 16 bytes")
        XCTAssertEqual(record.storedPath, "out/\(record.root).ct")
        let good = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(record.encoded())) as? [String: Any])
        let variants: [(String, Any?)] = [("chunkSize", 1000), ("chunkSize", 2_097_152), ("ciphertextBytes", 31), ("index", -1),
                                          ("root", String(repeating: "0F", count: 32)), ("root", "abc"), ("direction", "both"),
                                          ("sender", "azerbaijan"), ("envelope", "not-a-uuid"), ("action", "cosign"), ("extra", 1), ("root", nil)]
        for (key, value) in variants {
            var object = good
            object[key] = value
            let bytes = Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
            XCTAssertNil(AttachmentLogRecord(json: bytes), "\(key) = \(String(describing: value))")
        }
        XCTAssertNil(AttachmentLogRecord(json: Array("{\"action\":\"attachment\",\"action\":\"attachment\"}".utf8)), "duplicate keys")
        XCTAssertNil(AttachmentLogRecord(json: [0xFF, 0x00, 0x7B]), "not JSON")
    }
}
