import Foundation
import IIASAudit
import IIASCrypto
import IIASLog
import IIASModel
import IIASTestSupport
import Synchronization
import XCTest

/// `LogAudit` called directly, on logs of real envelopes and tree heads signed with keys
/// from Scripts/pki.sh: a sound log verifies with its counts and root; an envelope whose
/// bytes or signature were changed, and a tree head signed by another key, are each
/// reported with their index while the rest is still checked; a damaged record stops the
/// audit naming its segment and offset.
final class LogAuditTests: XCTestCase {
    let pki = TestPKI.shared

    var verifier: EnvelopeVerifier {
        get throws {
            EnvelopeVerifier(trust: try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile),
                             certificates: try CertificateDirectory(pki.centersDirectory))
        }
    }

    func signingKey(_ center: String) throws -> SigningPrivateKey {
        try PrivateKeyFile.loadSigningKey(pki.centerDirectory(center) + "/signing.key")
    }

    /// The bytes of an envelope from `sender` to `recipient`, sealed with their real keys.
    func envelope(from sender: String, to recipient: String) throws -> [UInt8] {
        let draft: [String: Any] = [
            "version": FormalNotification.currentVersion, "id": UUID().uuidString.lowercased(),
            "sender": sender, "recipients": [recipient], "created": Timestamp.formatWithMilliseconds(Date()),
            "kind": "notification", "category": "drug-trafficking", "priority": "routine",
            "handling": ["tlp": "TLP:GREEN"], "subject": "Audit sample", "summary": "Checked by LogAudit.",
        ]
        let notification = try FormalNotification.parse(try JSONSerialization.data(withJSONObject: draft))
        let keys = try CertificateDirectory(pki.centersDirectory)
            .encryptionKeys(for: [CenterID(recipient)!], trust: try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile))
        return try Envelope.seal(notification, signer: try CenterKeys(directory: pki.centerDirectory(sender)).signingKey,
                                 recipientKeys: keys).bytes
    }

    /// AZ's log of 8 entries: 3 sent (0–2), a tree head (3), 2 received (4–5), an operator
    /// action (6), a tree head (7). `tamper` may replace the payload of entry 1 or 4.
    func makeLog(tamper: (Int, [UInt8]) -> [UInt8] = { $1 }) async throws -> String {
        let dir = try makeTemporaryDirectory("iias-audit").appendingPathComponent("log").path
        let log = try LogStore(directory: dir, segmentSize: 4096)
        defer { log.close() }
        for n in 0..<3 { _ = try await log.append(type: .sent, payload: tamper(n, try envelope(from: "AZ", to: "GE"))) }
        _ = try await log.appendTreeHead(signer: "AZ", key: try signingKey("AZ"))
        for n in 4..<6 { _ = try await log.append(type: .received, payload: tamper(n, try envelope(from: "GE", to: "AZ"))) }
        _ = try await log.append(type: .operatorAction, payload: Array(#"{"action":"read"}"#.utf8))
        _ = try await log.appendTreeHead(signer: "AZ", key: try signingKey("AZ"))
        return dir
    }

    func testSoundLogVerifiesWithCountsRootAndProgress() async throws {
        let dir = try await makeLog()
        let heard = Mutex<[(UInt64, UInt64)]>([])
        let audit = try LogAudit.run(directory: dir, verifier: try verifier) { checked, total in
            heard.withLock { $0.append((checked, total)) }
        }
        XCTAssertTrue(audit.isValid)
        XCTAssertEqual(audit.treeSize, 8)
        let reader = try LogStore(directory: dir, readOnly: true)
        defer { reader.close() }
        XCTAssertEqual(audit.rootHash, try reader.merkleTree().rootHash(treeSize: 8))
        let signatures = try XCTUnwrap(audit.signatures)
        XCTAssertEqual(signatures.envelopes, 5)
        XCTAssertEqual(signatures.treeHeads, 2)
        XCTAssertEqual(signatures.newestTreeHeadSize, 7)
        XCTAssertEqual(signatures.problemCount, 0)
        XCTAssertEqual(Set(signatures.signersInOrder.map(\.center.rawValue)), ["AZ", "GE"])
        XCTAssertEqual(signatures.signersInOrder.map(\.entries).reduce(0, +), 7, "5 envelopes and 2 tree heads, each with its signer")
        let last = try XCTUnwrap(heard.withLock { $0.last })
        XCTAssertTrue(last == (8, 8), "the last report says every entry was checked: \(last)")
    }

    func testWithoutVerifierOnlyTheStructureIsChecked() async throws {
        let dir = try await makeLog { n, bytes in n == 1 ? Array(bytes.dropLast()) + [bytes.last! ^ 1] : bytes }
        let audit = try LogAudit.run(directory: dir, verifier: nil)
        XCTAssertNil(audit.signatures)
        XCTAssertTrue(audit.isValid, "a bad signature is not looked for without a verifier")
        XCTAssertEqual(audit.treeSize, 8)
    }

    func testChangedEnvelopeBytesAreReportedWithTheIndex() async throws {
        // One byte of the clear header's end (inside the signed bytes) of entry 4 flipped.
        let dir = try await makeLog { n, bytes in
            guard n == 4 else { return bytes }
            var changed = bytes
            changed[changed.count - 65] ^= 0x01
            return changed
        }
        let audit = try LogAudit.run(directory: dir, verifier: try verifier)
        XCTAssertFalse(audit.isValid)
        let signatures = try XCTUnwrap(audit.signatures)
        XCTAssertEqual(signatures.problems.map(\.index), [4])
        XCTAssertTrue(signatures.problems[0].why.hasPrefix("received entry"), signatures.problems[0].why)
        XCTAssertEqual(signatures.envelopes, 4, "the other envelopes are still checked")
        XCTAssertEqual(signatures.treeHeads, 2)
    }

    func testChangedSignatureIsReportedWithTheIndex() async throws {
        let dir = try await makeLog { n, bytes in n == 1 ? Array(bytes.dropLast()) + [bytes.last! ^ 0x80] : bytes }
        let signatures = try XCTUnwrap(try LogAudit.run(directory: dir, verifier: try verifier).signatures)
        XCTAssertEqual(signatures.problems.map(\.index), [1])
        XCTAssertEqual(signatures.problemCount, 1)
        XCTAssertTrue(signatures.problems[0].why.hasPrefix("sent entry"), signatures.problems[0].why)
        XCTAssertEqual(signatures.envelopes, 4)
    }

    func testTreeHeadSignedByAnotherKeyIsReportedWithTheIndex() async throws {
        let dir = try makeTemporaryDirectory("iias-audit-head").appendingPathComponent("log").path
        let log = try LogStore(directory: dir, segmentSize: 4096)
        _ = try await log.append(type: .sent, payload: try envelope(from: "AZ", to: "UA"))
        _ = try await log.appendTreeHead(signer: "AZ", key: try signingKey("GE"))   // AZ's origin, GE's key
        _ = try await log.appendTreeHead(signer: "AZ", key: try signingKey("AZ"))
        log.close()
        let signatures = try XCTUnwrap(try LogAudit.run(directory: dir, verifier: try verifier).signatures)
        XCTAssertEqual(signatures.problems.map(\.index), [1])
        XCTAssertTrue(signatures.problems[0].why.hasPrefix("tree head:"), signatures.problems[0].why)
        XCTAssertEqual(signatures.treeHeads, 1, "the sound tree head after it still counts")
        XCTAssertEqual(signatures.newestTreeHeadSize, 2)
    }

    func testDamagedRecordStopsTheAuditNamingSegmentAndOffset() async throws {
        let dir = try await makeLog()
        let reader = try LogStore(directory: dir, readOnly: true)
        let place = try XCTUnwrap(reader.location(of: 1))
        reader.close()
        let path = dir + "/" + place.segment
        var bytes = try XCTUnwrap(FileManager.default.contents(atPath: path))
        bytes[place.offset + 40] ^= 0xFF   // inside record 1, which is not the log's last
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try LogAudit.run(directory: dir, verifier: try verifier)) { error in
            guard case LogStoreError.corrupt(let segment, let offset, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(segment, place.segment)
            XCTAssertEqual(offset, place.offset)
        }
    }
}
