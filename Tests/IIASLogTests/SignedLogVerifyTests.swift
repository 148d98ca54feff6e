import Foundation
import IIASCrypto
import IIASLog
import IIASModel
import IIASTestSupport
import XCTest

/// `iias log verify DIR --ca --certs`: with real envelopes sealed by IIASCrypto and real
/// signed tree heads, a valid log passes with counts; a tree head signed by the wrong key,
/// a forged envelope, or a non-envelope payload of an envelope type fails naming the index.
final class SignedLogVerifyTests: XCTestCase {
    let pki = TestPKI.shared

    func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 30)
    }

    var trustArguments: [String] { ["--ca", pki.caFile, "--crl", pki.crlFile, "--certs", pki.centersDirectory] }

    static func now() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    func sealed(from sender: String, to recipients: [String], id: UUID = UUID()) throws -> Envelope {
        let document: [String: Any] = [
            "version": FormalNotification.currentVersion,
            "id": id.uuidString.lowercased(),
            "sender": sender,
            "recipients": recipients,
            "created": Self.now(),
            "kind": "notification",
            "category": "terrorism",
            "priority": "flash",
            "handling": ["tlp": "TLP:AMBER", "codes": ["H2"]],
            "subject": "Log verify sample",
            "summary": "An envelope appended to a log and verified by iias log verify.",
        ]
        let notification = try FormalNotification.parse(try JSONSerialization.data(withJSONObject: document))
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        let directory = try CertificateDirectory(pki.centersDirectory)
        let keys = try directory.encryptionKeys(for: recipients.map { CenterID($0)! }, trust: trust)
        let signer = try CenterKeys(directory: pki.centerDirectory(sender))
        return try Envelope.seal(notification, signer: signer.signingKey, recipientKeys: keys)
    }

    /// A log of 9 entries: 6 envelopes (AZ→GE sent, GE→AZ received), 1 operator action, AZ tree heads at 3 and 8.
    func makeLog() async throws -> (dir: String, log: LogStore, key: SigningPrivateKey) {
        let dir = try makeTemporaryDirectory("iias-signedlog").appendingPathComponent("log").path
        let key = try PrivateKeyFile.loadSigningKey(pki.centerDirectory("AZ") + "/signing.key")
        let log = try LogStore(directory: dir, segmentSize: 4096)
        for _ in 0..<3 { _ = try await log.append(type: .sent, payload: try sealed(from: "AZ", to: ["GE"]).bytes) }
        try await log.appendTreeHead(signer: "AZ", key: key)
        for _ in 0..<3 { _ = try await log.append(type: .received, payload: try sealed(from: "GE", to: ["AZ"]).bytes) }
        _ = try await log.append(type: .operatorAction, payload: Array("rotated keys".utf8))
        try await log.appendTreeHead(signer: "AZ", key: key)
        return (dir, log, key)
    }

    func testValidSignedLogPassesWithCounts() async throws {
        let (dir, log, _) = try await makeLog()
        log.close()
        let result = try iias(["log", "verify", dir, "--json"] + trustArguments)
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["entries"] as? Int, 9)
        XCTAssertEqual(json["treeHeadsChecked"] as? Int, 2)
        XCTAssertEqual(json["envelopesChecked"] as? Int, 6)
        XCTAssertEqual(json["newestTreeHeadSize"] as? Int, 8)
        let root = try LogStore(directory: dir, readOnly: true).merkleTree().rootHash(treeSize: 9)
        XCTAssertEqual(json["rootHash"] as? String, root.hexString)
        XCTAssertEqual(result.stderr, "", "no progress line when stderr is not a terminal")

        let text = try iias(["log", "verify", dir] + trustArguments)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("envelopes checked:  6"), text.stdout)
        // Without trust options only the structure is checked.
        let plain = try iias(["log", "verify", dir, "--json"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertFalse(plain.stdout.contains("envelopesChecked"), plain.stdout)
        // Half the trust options is a usage error.
        XCTAssertEqual(try iias(["log", "verify", dir, "--ca", pki.caFile]).status, 2)
    }

    /// On a terminal (a pty from script(1)) a progress line goes to stderr; in a pipe it
    /// does not (checked in testValidSignedLogPassesWithCounts).
    func testProgressLineOnlyOnTerminal() async throws {
        let script = "/usr/bin/script"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: script), "script(1) not installed")
        let (dir, log, _) = try await makeLog()
        log.close()
        let command = ([RepositoryPaths.iiasExecutable, "log", "verify", dir] + trustArguments)
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let result = try ProcessRunner.run(script, ["-qec", command, "/dev/null"], timeout: 30)
        XCTAssertEqual(result.status, 0, result.stdout)
        XCTAssertTrue(result.stdout.contains("checking signatures"), result.stdout)
        XCTAssertTrue(result.stdout.contains("9/9"), result.stdout)
    }

    func testTreeHeadSignedByWrongKeyFails() async throws {
        let (dir, log, _) = try await makeLog()
        try await log.appendTreeHead(signer: "AZ", key: SigningPrivateKey.generate())
        log.close()
        let result = try iias(["log", "verify", dir] + trustArguments)
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stderr.contains("entry 9 "), result.stderr)
        XCTAssertTrue(result.stderr.contains("does not verify"), result.stderr)
    }

    func testTreeHeadWithWrongRootFails() async throws {
        let (dir, log, key) = try await makeLog()
        let lie = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: 9, rootHash: [UInt8](repeating: 7, count: 32))
        _ = try await log.append(type: .treeHead, payload: Array(lie.signedNote(name: "AZ", key: key).utf8))
        log.close()
        let result = try iias(["log", "verify", dir] + trustArguments)
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stderr.contains("entry 9 "), result.stderr)
        XCTAssertTrue(result.stderr.contains("root does not match"), result.stderr)
    }

    /// Garbage, a foreign origin, and a tree head by a revoked center (its real key) all fail.
    func testBadTreeHeadsFail() async throws {
        let revokedKey = try PrivateKeyFile.loadSigningKey(pki.centerDirectory("RV") + "/signing.key")
        let payloads: [(String, [UInt8])] = [
            ("garbage", Array("not a note\n\n".utf8)),
            ("empty", []),
            ("origin", Array(Checkpoint(origin: "example.com/log", treeSize: 9, rootHash: [UInt8](repeating: 1, count: 32))
                .signedNote(name: "AZ", key: revokedKey).utf8)),
        ]
        for (name, payload) in payloads {
            let (dir, log, _) = try await makeLog()
            _ = try await log.append(type: .treeHead, payload: payload)
            log.close()
            let result = try iias(["log", "verify", dir] + trustArguments)
            XCTAssertEqual(result.status, 1, "\(name): \(result.stdout)")
            XCTAssertTrue(result.stderr.contains("entry 9 ("), "\(name): \(result.stderr)")
        }
        let (dir, log, _) = try await makeLog()
        try await log.appendTreeHead(signer: "RV", key: revokedKey)
        log.close()
        let revoked = try iias(["log", "verify", dir] + trustArguments)
        XCTAssertEqual(revoked.status, 1, revoked.stdout)
        XCTAssertTrue(revoked.stderr.contains("entry 9 ("), revoked.stderr)
        XCTAssertTrue(revoked.stderr.lowercased().contains("revoked"), revoked.stderr)
    }

    func testForgedEnvelopeFailsNamingIndex() async throws {
        let (dir, log, _) = try await makeLog()
        var forged = try sealed(from: "GE", to: ["AZ"]).bytes
        forged[forged.count / 2] ^= 0x01
        _ = try await log.append(type: .received, payload: forged)
        log.close()
        let result = try iias(["log", "verify", dir, "--json"] + trustArguments)
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stderr.contains("entry 9 (") && result.stderr.contains(".seg offset "), result.stderr)
    }

    func testNonEnvelopePayloadOfEnvelopeTypeFails() async throws {
        let (dir, log, _) = try await makeLog()
        _ = try await log.append(type: .receipt, payload: Array("not an envelope".utf8))
        log.close()
        let result = try iias(["log", "verify", dir] + trustArguments)
        XCTAssertEqual(result.status, 1, result.stdout)
        XCTAssertTrue(result.stderr.contains("entry 9 ") && result.stderr.contains("receipt"), result.stderr)
    }

    // MARK: lookups by envelope id and iteration

    /// The log is a container: it keeps no index by envelope id. `log export --id` reads
    /// the entries once and takes the first sent/received/receipt entry holding the
    /// envelope; two senders that used one id need `--from`. Iteration survives a reopen.
    func testEnvelopeIDLookupAndIterationSurviveReopen() async throws {
        let dir = try makeTemporaryDirectory("iias-lookup").appendingPathComponent("log").path
        let log = try LogStore(directory: dir, segmentSize: 4096)
        _ = try await log.append(type: .receipt, payload: Array("garbage, not an envelope".utf8))
        var ids: [UUID: UInt64] = [:]
        for i in 0..<6 {
            let envelope = try sealed(from: i % 2 == 0 ? "AZ" : "GE", to: [i % 2 == 0 ? "GE" : "AZ"])
            ids[envelope.id] = try await log.append(type: i % 2 == 0 ? .sent : .received, payload: envelope.bytes)
            _ = try await log.append(type: .operatorAction, payload: envelope.bytes)  // not an envelope entry: skipped
        }
        let first = ids.first!
        let again = try await log.append(type: .received, payload: try log.entry(at: first.value).payload)
        XCTAssertEqual(log.entries(from: 0).map(\.index), Array(0..<log.count))
        XCTAssertEqual(log.entries(from: 10).map(\.index), Array(10..<log.count))
        XCTAssertEqual(Array(log.entries(from: 1000)), [])
        log.close()

        let reopened = try LogStore(directory: dir, segmentSize: 4096, readOnly: true)
        let all = reopened.entries()
        XCTAssertEqual(all.map(\.type).filter { $0 == .operatorAction }.count, 6)
        XCTAssertNil(all.error)
        let expected = try Dictionary(uniqueKeysWithValues: ids.map { ($0.key, try reopened.entry(at: $0.value).payload) })
        reopened.close()
        let out = try makeTemporaryDirectory("iias-lookup-out")
        for (id, payload) in expected {
            let file = out.appendingPathComponent("\(id).iias").path
            let export = try iias(["log", "export", dir, "--id", id.uuidString.lowercased(), "--out", file])
            XCTAssertEqual(export.status, 0, export.stderr)
            XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))), payload, "entry \(ids[id]!), not \(again) for the repeated one")
        }
        let missing = try iias(["log", "export", dir, "--id", UUID().uuidString.lowercased(), "--out", out.appendingPathComponent("none").path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("no envelope"), missing.stderr)
    }

    /// Two centers used one envelope id: `--id` alone names both and asks for `--from`;
    /// with it, the sender's own entry; garbage in `--from` is a usage error.
    func testAnIdTwoCentersUsedNeedsFrom() async throws {
        let dir = try makeTemporaryDirectory("iias-shared-id").appendingPathComponent("log").path
        let log = try LogStore(directory: dir)
        let shared = UUID()
        let fromAZ = try sealed(from: "AZ", to: ["GE"], id: shared), fromUA = try sealed(from: "UA", to: ["GE"], id: shared)
        _ = try await log.append(type: .received, payload: fromAZ.bytes)
        _ = try await log.append(type: .received, payload: fromUA.bytes)
        log.close()
        let out = try makeTemporaryDirectory("iias-shared-id-out").appendingPathComponent("e.iias").path
        let ambiguous = try iias(["log", "export", dir, "--id", shared.uuidString, "--out", out])
        XCTAssertEqual(ambiguous.status, 2)
        XCTAssertTrue(ambiguous.stderr.contains("AZ/") && ambiguous.stderr.contains("UA/") && ambiguous.stderr.contains("--from"), ambiguous.stderr)
        let named = try iias(["log", "export", dir, "--id", shared.uuidString, "--from", "UA", "--out", out])
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: out))), fromUA.bytes)
        for garbage in ["ua", "U", "UA/x", ""] {
            let bad = try iias(["log", "export", dir, "--id", shared.uuidString, "--from", garbage, "--out", out + ".bad"])
            XCTAssertEqual(bad.status, 2, "--from \(garbage): \(bad.stderr)")
            XCTAssertTrue(bad.stderr.contains("not a center id"), "--from \(garbage): \(bad.stderr)")
        }
    }

    func testProofByEnvelopeID() async throws {
        let (dir, log, _) = try await makeLog()
        let envelope = try Envelope(parsing: try log.entry(at: 5).payload)
        log.close()
        let keyDir = pki.centerDirectory("AZ")
        let byID = try iias(["log", "proof", dir, "--id", envelope.id.uuidString, "--key-dir", keyDir])
        XCTAssertEqual(byID.status, 0, byID.stderr)
        let byIndex = try iias(["log", "proof", dir, "--index", "5", "--key-dir", keyDir])
        XCTAssertEqual(byIndex.status, 0, byIndex.stderr)
        let a = try JSONDecoder().decode(LogProof.self, from: Data(byID.stdout.utf8))
        let b = try JSONDecoder().decode(LogProof.self, from: Data(byIndex.stdout.utf8))
        XCTAssertEqual(a.entry, b.entry)
        XCTAssertEqual(a.path, b.path)
        XCTAssertNoThrow(try a.verify(publicKey: try Certificate(pemFile: keyDir + "/signing.crt").signingPublicKey()))

        let unknown = try iias(["log", "proof", dir, "--id", UUID().uuidString, "--key-dir", keyDir])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("no envelope"), unknown.stderr)
        XCTAssertEqual(try iias(["log", "proof", dir, "--id", "not-a-uuid\u{1B}[31m", "--key-dir", keyDir]).status, 2)
        XCTAssertEqual(try iias(["log", "proof", dir, "--id", envelope.id.uuidString, "--index", "5", "--key-dir", keyDir]).status, 2)
        XCTAssertEqual(try iias(["log", "proof", dir, "--key-dir", keyDir]).status, 2)
    }
}
