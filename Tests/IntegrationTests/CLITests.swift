import Foundation
import IIASCrypto
import IIASModel
import IIASTestSupport
import XCTest

/// The `iias` binary as operators and auditors run it: a real process, real files, the
/// PKI made by `Scripts/pki.sh`. Exit codes are part of the interface: 0 done,
/// 1 refused or invalid (the message says what), 2 the command could not run as given.
final class CLITests: XCTestCase {
    private let pki = TestPKI.shared
    private var work: URL!

    override func setUpWithError() throws {
        work = try makeTemporaryDirectory("cli")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    // MARK: helpers

    @discardableResult
    private func iias(_ arguments: [String], stdin: String? = nil) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, stdin: stdin.map { Array($0.utf8) }, timeout: 60)
    }

    private func path(_ name: String) -> String { work.appendingPathComponent(name).path }

    private func keyDir(_ center: String) -> [String] { ["--key-dir", pki.centerDirectory(center), "--crl", pki.crlFile] }

    private var auditorTrust: [String] { ["--ca", pki.caFile, "--crl", pki.crlFile, "--certs", pki.centersDirectory] }

    private func sealFlash(to recipients: String = "GE,UA,MD", out name: String = "alert.iias") throws -> String {
        let out = path(name)
        let result = try iias(["compose", "--from", "AZ", "--to", recipients, "--category", "terrorism",
                               "--priority", "flash", "--tlp", "TLP:AMBER", "--handling", "H2", "--evaluation", "B2",
                               "--subject", "Planned attack on a pumping station",
                               "--summary", "A reliable source reports preparations within 72 hours.",
                               "--seal", "--out", out] + keyDir("AZ"))
        XCTAssertEqual(result.status, 0, result.stderr)
        return out
    }

    private func assertExit(_ result: ProcessRunner.Result, _ status: Int32, mentioning text: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, status, "stderr: \(result.stderr)", file: file, line: line)
        XCTAssertTrue((result.stderr + result.stdout).contains(text),
                      "expected '\(text)' in: \(result.stderr)\(result.stdout)", file: file, line: line)
    }

    // MARK: the operator's round trip

    func testEachRecipientOpensWhatAZSealedAndOthersAreRefused() throws {
        let envelope = try sealFlash()
        for center in ["GE", "UA", "MD"] {
            let opened = try iias(["open", envelope, "--json"] + keyDir(center))
            XCTAssertEqual(opened.status, 0, opened.stderr)
            let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(opened.stdoutBytes)) as? [String: Any])
            XCTAssertEqual(document["subject"] as? String, "Planned attack on a pumping station")
            XCTAssertEqual(document["sender"] as? String, "AZ")
            XCTAssertEqual(document["priority"] as? String, "flash")
        }
        assertExit(try iias(["open", envelope] + keyDir("TJ")), 1, mentioning: "not addressed to TJ")
    }

    func testTheHumanViewLeadsWithPriorityAndHandling() throws {
        let envelope = try sealFlash(to: "GE")
        let opened = try iias(["open", envelope] + keyDir("GE"))
        XCTAssertEqual(opened.status, 0, opened.stderr)
        let firstLine = try XCTUnwrap(opened.stdout.split(separator: "\n").first)
        XCTAssertTrue(firstLine.contains("FLASH") && firstLine.contains("TLP:AMBER") && firstLine.contains("H2"), String(firstLine))
        XCTAssertFalse(opened.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
    }

    func testComposeFromADocumentOnStandardInputWithoutSealing() throws {
        let document = """
        {"sender":"AZ","recipients":["GE"],"category":"drug-trafficking","priority":"urgent",
         "handling":{"tlp":"TLP:GREEN","codes":["H0"]},"subject":"Heroin consignment by road",
         "summary":"A truck leaves on Monday."}
        """
        let out = path("n.json")
        let result = try iias(["compose", "--file", "-", "--out", out], stdin: document)
        XCTAssertEqual(result.status, 0, result.stderr)
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        XCTAssertEqual(written["category"] as? String, "drug-trafficking")
        XCTAssertNotNil(written["id"], "compose fills in the id")
        XCTAssertNotNil(written["created"], "compose fills in the creation time")
    }

    // MARK: the auditor

    /// A batch of receipts: the auditor sees every envelope it answers, with its digest and
    /// the recipient's log index, under the one signature it checked; a changed index fails.
    func testAuditVerifyShowsEveryReceiptOfABatch() throws {
        let ge = try CenterKeys(directory: pki.centerDirectory("GE"))
        let receipts = (0..<3).map { Receipt(envelopeID: UUID(), envelopeSHA256: [UInt8](repeating: UInt8($0), count: 32),
                                             outcome: .delivered, logIndex: UInt64(500 + $0)) }
        let batch = Envelope.receiptBatch(receipts, to: CenterID(rawValue: "AZ")!, from: ge.center, signer: ge.signingKey)
        let file = path("batch.iias")
        try Data(batch.bytes).write(to: URL(fileURLWithPath: file))
        let good = try iias(["audit", "verify", file, "--json"] + auditorTrust)
        XCTAssertEqual(good.status, 0, good.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(good.stdoutBytes)) as? [String: Any])
        let listed = try XCTUnwrap(report["receipts"] as? [[String: Any]])
        XCTAssertEqual(listed.compactMap { $0["envelope"] as? String }, receipts.map { $0.envelopeID.uuidString.lowercased() })
        XCTAssertEqual(listed.compactMap { $0["logIndex"] as? Int }, [500, 501, 502])
        XCTAssertEqual(listed.compactMap { $0["envelopeSHA256"] as? String }, receipts.map { $0.envelopeSHA256.hexString })
        XCTAssertNil(report["receipt"])
        let table = try iias(["audit", "verify", file] + auditorTrust)
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("3 envelopes delivered"), table.stdout)
        XCTAssertTrue(table.stdout.contains("\(receipts[2].envelopeID.uuidString.lowercased()) at log index 502"), table.stdout)

        // The second receipt's index changed: the signature no longer holds.
        var bytes = batch.bytes
        let text = Array("\"logIndex\":501".utf8)
        let at = try XCTUnwrap((0...(bytes.count - text.count)).first { Array(bytes[$0..<($0 + text.count)]) == text })
        bytes[at + text.count - 1] = UInt8(ascii: "7")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let bad = try iias(["audit", "verify", file, "--json"] + auditorTrust)
        XCTAssertEqual(bad.status, 1, bad.stderr)
    }

    func testAuditVerifyAcceptsTheOriginalAndRefusesATamperedCopy() throws {
        let envelope = try sealFlash()
        let good = try iias(["audit", "verify", envelope, "--json"] + auditorTrust)
        XCTAssertEqual(good.status, 0, good.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(good.stdoutBytes)) as? [String: Any])
        XCTAssertEqual(report["valid"] as? Bool, true)
        XCTAssertEqual(report["sender"] as? String, "AZ")
        XCTAssertEqual(report["version"] as? Int, 3, "compose seals version 3 (naming its signing key)")
        XCTAssertEqual((report["ephemeralKey"] as? String)?.count, 64, "the ephemeral key the content keys are wrapped under")

        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: envelope)))
        bytes[bytes.count / 2] ^= 0x01
        let tampered = path("tampered.iias")
        try Data(bytes).write(to: URL(fileURLWithPath: tampered))
        let bad = try iias(["audit", "verify", tampered, "--json"] + auditorTrust)
        XCTAssertEqual(bad.status, 1, bad.stderr)
        let refusal = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bad.stdoutBytes)) as? [String: Any])
        XCTAssertEqual(refusal["valid"] as? Bool, false)
        XCTAssertFalse((refusal["error"] as? String ?? "").isEmpty)
    }

    func testExportedSignatureVerifiesWithOpenSSLAlone() throws {
        let envelope = try sealFlash(to: "MD")
        let export = try iias(["audit", "export-signed", envelope, "--json"])
        XCTAssertEqual(export.status, 0, export.stderr)
        let paths = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(export.stdoutBytes)) as? [String: Any])
        let signed = try XCTUnwrap(paths["signed"] as? String), signature = try XCTUnwrap(paths["signature"] as? String)
        let openssl = try ProcessRunner.run("/usr/bin/env", [
            "openssl", "pkeyutl", "-verify", "-rawin", "-certin",
            "-inkey", pki.centerDirectory("AZ") + "/signing.crt", "-in", signed, "-sigfile", signature,
        ])
        XCTAssertEqual(openssl.status, 0, openssl.stderr + openssl.stdout)
        XCTAssertTrue(openssl.stdout.contains("Signature Verified Successfully"))
        // The same signature does not verify under another center's certificate.
        let wrong = try ProcessRunner.run("/usr/bin/env", [
            "openssl", "pkeyutl", "-verify", "-rawin", "-certin",
            "-inkey", pki.centerDirectory("GE") + "/signing.crt", "-in", signed, "-sigfile", signature,
        ])
        XCTAssertNotEqual(wrong.status, 0)
    }

    // MARK: bad input: a clear message, a meaningful exit code, nothing written

    func testInvalidNotificationsNameTheFieldAndExitOne() throws {
        let out = path("never.iias")
        let result = try iias(["compose", "--from", "AZ", "--to", "GE", "--category", "jaywalking",
                               "--subject", "x", "--summary", "y", "--seal", "--out", out] + keyDir("AZ"))
        assertExit(result, 1, mentioning: "/category")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is written for an invalid notification")
    }

    func testGarbageDocumentsAreRefused() throws {
        for (name, text) in [("not JSON", "{{{"), ("an array", "[1,2]"), ("truncated", "{\"sender\":\"AZ\",\"recip")] {
            let result = try iias(["compose", "--file", "-"], stdin: text)
            XCTAssertEqual(result.status, 1, "\(name): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("error"), "\(name): \(result.stderr)")
        }
    }

    func testGarbageEmptyAndTruncatedEnvelopesAreRefusedWithExitOne() throws {
        let envelope = try sealFlash(to: "GE")
        let original = try Data(contentsOf: URL(fileURLWithPath: envelope))
        let cases: [(String, Data)] = [
            ("empty", Data()),
            ("garbage", Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31) })),
            ("truncated", original.prefix(original.count - 10)),
            ("header only", original.prefix(40)),
        ]
        for (name, bytes) in cases {
            let file = path("\(name).iias")
            try bytes.write(to: URL(fileURLWithPath: file))
            for arguments in [["open", file] + keyDir("GE"), ["audit", "verify", file] + auditorTrust] {
                let result = try iias(arguments)
                XCTAssertEqual(result.status, 1, "\(name) \(arguments[0]): \(result.stderr)")
                XCTAssertTrue((result.stderr + result.stdout).contains(file), "\(name): the message names the file: \(result.stderr)")
            }
        }
    }

    func testAnOversizedFileIsRefusedBeforeReading() throws {
        let file = path("huge.iias")
        FileManager.default.createFile(atPath: file, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.truncate(atOffset: 64 << 20)  // sparse: 64 MiB without writing them
        try handle.close()
        assertExit(try iias(["audit", "verify", file] + auditorTrust), 1, mentioning: "limit")
    }

    func testUsageErrorsExitTwoAndSayWhatToDo() throws {
        assertExit(try iias(["open", path("missing.iias")] + keyDir("GE")), 2, mentioning: "missing.iias")
        assertExit(try iias(["compose", "--no-such-flag"]), 2, mentioning: "no-such-flag")
        assertExit(try iias(["audit", "verify", path("x.iias")]), 2, mentioning: "--ca")
        assertExit(try iias(["open", path("x.iias"), "--key-dir", path("no-such-center")]), 2, mentioning: "no-such-center")
        assertExit(try iias(["compose", "--to", "GE", "--subject", "s", "--summary", "x", "--seal"] + keyDir("AZ")),
                   2, mentioning: "--out")
        // Refused before any node is asked: the unknown state and the states there are.
        assertExit(try iias(["watch", "--state", "delivered,lost", "--socket", path("no-node.sock")]), 2, mentioning: "refused")
        assertExit(try iias(["watch", "--type", "gossip", "--socket", path("no-node.sock")]), 2, mentioning: "received, delivery, peer")
    }

    func testAKeyReadableByOthersIsRefusedWithTheFix() throws {
        let copy = work.appendingPathComponent("AZ")
        try FileManager.default.copyItem(atPath: pki.centerDirectory("AZ"), toPath: copy.path)
        let key = copy.appendingPathComponent("signing.key").path
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        let result = try iias(["compose", "--to", "GE", "--subject", "s", "--summary", "x", "--seal",
                               "--out", path("o.iias"), "--key-dir", copy.path, "--ca", pki.caFile, "--crl", pki.crlFile,
                               "--certs", pki.centersDirectory])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("chmod 600"), result.stderr)
    }

    func testHelpTeachesWithExamples() throws {
        for command in [["--help"], ["compose", "--help"], ["open", "--help"], ["audit", "verify", "--help"]] {
            let result = try iias(command)
            XCTAssertEqual(result.status, 0, "\(command): \(result.stderr)")
            XCTAssertTrue(result.stdout.contains("USAGE"), "\(command)")
        }
        XCTAssertTrue(try iias(["compose", "--help"]).stdout.contains("Example"))
    }
}

/// The shell-level checks of `Scripts/pki.sh` (usage errors, layout, permissions,
/// openssl verification of what it issues) run as part of `swift test`.
final class PKIScriptTests: XCTestCase {
    func testPKIScriptSuite() throws {
        let result = try ProcessRunner.run(RepositoryPaths.script("lib-pki-test.sh"), [], timeout: 600)
        XCTAssertEqual(result.status, 0, String(result.stdout.suffix(3000)) + String(result.stderr.suffix(2000)))
    }
}
