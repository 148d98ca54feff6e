import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Receipts that prove delivery, with real processes: after AZ's notification reaches GE,
/// UA and MD, each recipient's checkpoint covering it gets a quorum of cosignatures, each
/// sends AZ a C2SP tlog-proof bundle, AZ keeps it, `iias outbox ID --proof` writes it and
/// `iias audit check-proof --policy` verifies it with a policy `pki.sh policy` wrote — and
/// refuses it once any hash, signature or cosignature is altered or the quorum is not met.
final class ReceiptProofTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 60)
    }

    /// A policy of the test PKI's centers with quorum `k`, written by `pki.sh policy`.
    private func policy(quorum k: Int, in folder: String) throws -> String {
        let file = folder + "/policy-\(k).txt"
        let result = try ProcessRunner.run(RepositoryPaths.script("pki.sh"), ["-q", "policy", TestPKI.shared.root.path, "--quorum", "\(k)", "--out", file], timeout: 60)
        XCTAssertEqual(result.status, 0, result.stderr)
        return file
    }

    /// The bytes of AZ's envelope `id` as its log holds them (an auditor's read-only open).
    private func envelopeBytes(_ id: UUID, in logDirectory: String) throws -> [UInt8] {
        let log = try LogStore(directory: logDirectory, readOnly: true)
        for index in 0..<log.count {
            let entry = try log.entry(at: index)
            if entry.type == .sent, let envelope = try? Envelope(parsing: entry.payload), envelope.id == id { return entry.payload }
        }
        throw TestFailure("no sent entry for \(id)")
    }

    private func write(_ text: String, _ path: String) throws -> String {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testEachRecipientsProofVerifiesWithThePolicyAndNothingAlteredDoes() async throws {
        let centers = ["AZ", "GE", "UA", "MD"]
        let cluster = try NodeCluster(centers, extra: ["treeHeadIntervalSeconds": 1])
        try cluster.startAll()
        defer { cluster.stopAll() }
        let folder = (cluster.logDirectory("AZ") as NSString).deletingLastPathComponent // AZ's data directory
        let sent = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE", "UA", "MD"], subject: "Proven delivery"))
        let envelope = try write("", folder + "/envelope")
        try Data(try envelopeBytes(sent.id, in: cluster.logDirectory("AZ"))).write(to: URL(fileURLWithPath: envelope))
        let quorum2 = try policy(quorum: 2, in: folder), quorum3 = try policy(quorum: 3, in: folder)
        var bundles: [String: String] = [:]
        for recipient in ["GE", "UA", "MD"] {
            let file = folder + "/\(recipient).tlog-proof"
            try await eventually("\(recipient)'s proof reached AZ", timeout: 120) {
                try iias(["outbox", sent.id.uuidString, "--proof", recipient, "--out", file, "--socket", cluster.socketPath("AZ")]).status == 0
            }
            let checked = try iias(["audit", "check-proof", file, "--policy", quorum2, "--envelope", envelope])
            XCTAssertEqual(checked.status, 0, checked.stderr)
            XCTAssertTrue(checked.stdout.contains("is in iias:center:\(recipient)/log"), checked.stdout)
            XCTAssertTrue(checked.stdout.contains("logged no later than"), checked.stdout)
            let json = try iias(["audit", "check-proof", file, "--policy", quorum2, "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            XCTAssertEqual(object?["entryType"] as? String, "received")
            XCTAssertGreaterThanOrEqual((object?["cosignatures"] as? [Any])?.count ?? 0, 2)
            bundles[recipient] = try String(contentsOfFile: file, encoding: .utf8)
        }
        // The bundle is the C2SP layout; AZ keeps each recipient's proofs in one file.
        let ge = try XCTUnwrap(bundles["GE"])
        XCTAssertTrue(ge.hasPrefix("c2sp.org/tlog-proof@v1\nextra "))
        for recipient in ["GE", "UA", "MD"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/proofs/\(recipient).proofs"), recipient)
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/proofs/\(recipient)"), "no file per proof")
        }

        // Any line altered: refused (exit 1), by line kind.
        let lines = ge.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var alteredLines = 0
        for (number, line) in lines.enumerated() where number > 0 && line.count > 40 {
            alteredLines += 1
            var altered = lines
            var characters = Array(line)
            characters[characters.count / 2] = characters[characters.count / 2] == "A" ? "B" : "A"
            altered[number] = String(characters)
            let file = try write(altered.joined(separator: "\n"), folder + "/altered.tlog-proof")
            XCTAssertEqual(try iias(["audit", "check-proof", file, "--policy", quorum2]).status, 1, "line \(number) altered: \(line)")
        }
        XCTAssertGreaterThanOrEqual(alteredLines, 5, "the extra line, the root, the log's signature, at least two cosignatures, and the proof hashes")
        // Another envelope is not the proven entry.
        let other = try write("another envelope", folder + "/other-envelope")
        XCTAssertEqual(try iias(["audit", "check-proof", folder + "/GE.tlog-proof", "--policy", quorum2, "--envelope", other]).status, 1)

        // Two cosignatures kept: they meet a quorum of 2, not one of 3.
        let signatureStart = try XCTUnwrap(lines.lastIndex(of: "")) // the bundle ends with a newline
        let noteStart = try XCTUnwrap(lines[..<signatureStart].lastIndex(of: ""))
        let body = lines[..<noteStart].joined(separator: "\n")
        let rest = Array(lines[(noteStart + 1)..<signatureStart])
        let logLine = try XCTUnwrap(rest.first { $0.hasPrefix("— iias:center:GE/log ") })
        let cosignatureLines = rest.filter { $0.contains("/witness ") }
        XCTAssertGreaterThanOrEqual(cosignatureLines.count, 2)
        let trimmed = try write(body + "\n\n" + ([logLine] + cosignatureLines.prefix(2)).joined(separator: "\n") + "\n", folder + "/two.tlog-proof")
        XCTAssertEqual(try iias(["audit", "check-proof", trimmed, "--policy", quorum2]).status, 0)
        XCTAssertEqual(try iias(["audit", "check-proof", trimmed, "--policy", quorum3]).status, 1, "quorum 3, two cosignatures")
        // A policy that lists other witness keys (the foreign PKI's) is not met.
        let foreign = try String(contentsOfFile: quorum2, encoding: .utf8).split(separator: "\n").map { line -> String in
            guard line.hasPrefix("witness ") else { return String(line) }
            let parts = line.split(separator: " ")
            let key = TlogPolicy.VerifierKey(name: String(parts[2].split(separator: "+")[0]), type: 0x04, publicKey: SigningPrivateKey.generate().publicKey)
            return "witness \(parts[1]) \(key.text)"
        }.joined(separator: "\n") + "\n"
        XCTAssertEqual(try iias(["audit", "check-proof", folder + "/GE.tlog-proof", "--policy", try write(foreign, folder + "/foreign.txt")]).status, 1)
        XCTAssertEqual(try iias(["audit", "check-proof", folder + "/GE.tlog-proof"]).status, 2, "neither --policy nor --cert")

        // A restart keeps every proof (the index is rebuilt from the file); a bundle an
        // earlier version kept in a file of its own (UA's here) is still handed out.
        cluster.stop("AZ")
        let ua = try XCTUnwrap(bundles["UA"])
        try FileManager.default.removeItem(atPath: folder + "/proofs/UA.proofs")
        try FileManager.default.createDirectory(atPath: folder + "/proofs/UA", withIntermediateDirectories: true)
        _ = try write(ua, folder + "/proofs/UA/\(sent.id.uuidString.lowercased()).tlog-proof")
        try cluster.start("AZ")
        try await eventually("AZ is connected to its peers again") {
            try await cluster.client("AZ").peers().allSatisfy { $0.state == .connected }
        }
        for (recipient, bundle) in [("GE", ge), ("UA", ua)] {
            let again = folder + "/\(recipient)-again.tlog-proof"
            XCTAssertEqual(try iias(["outbox", sent.id.uuidString, "--proof", recipient, "--out", again, "--socket", cluster.socketPath("AZ")]).status, 0)
            XCTAssertEqual(try String(contentsOfFile: again, encoding: .utf8), bundle, recipient)
        }
    }
}
