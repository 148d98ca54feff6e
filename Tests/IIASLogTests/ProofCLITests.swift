import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import XCTest

/// `iias log proof`, `iias log consistency` and `iias audit check-proof` with the real
/// binary and a real PKI: proofs made from a log verify offline with only the signer's
/// certificate; a proof altered in any one hash, a foreign signer, malformed JSON and
/// out-of-range requests are refused with the right exit code.
final class ProofCLITests: XCTestCase {
    let pki = TestPKI.shared

    func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 30)
    }

    func makeLog(entries: Int) async throws -> String {
        let dir = try makeTemporaryDirectory("iias-proofcli").appendingPathComponent("log").path
        let log = try LogStore(directory: dir, segmentSize: 4096)
        for i in 0..<entries { _ = try await log.append(type: .received, payload: Array("envelope \(i)".utf8)) }
        log.close()
        return dir
    }

    func write(_ text: String) throws -> String {
        let path = try makeTemporaryDirectory("iias-proof").appendingPathComponent("proof.json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    var azCert: String { pki.centerDirectory("AZ") + "/signing.crt" }

    func testInclusionProofVerifiesOfflineAndAnyAlteredHashFails() async throws {
        let dir = try await makeLog(entries: 77)
        let made = try iias(["log", "proof", dir, "--index", "41", "--tree-size", "70", "--key-dir", pki.centerDirectory("AZ")])
        XCTAssertEqual(made.status, 0, made.stderr)
        let path = try write(made.stdout)
        let ok = try iias(["audit", "check-proof", path, "--cert", azCert, "--json"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("\"treeSize\":70"), ok.stdout)

        let proof = try JSONDecoder().decode(LogProof.self, from: Data(made.stdout.utf8))
        XCTAssertEqual(proof.path.count, 7)  // ⌈log2 70⌉ hashes for a leaf in the left 64-subtree
        for position in proof.path.indices {
            var altered = proof
            var hash = Array(altered.path[position])
            hash[0] = hash[0] == "0" ? "1" : "0"
            altered.path[position] = String(hash)
            XCTAssertThrowsError(try altered.verify(publicKey: try Certificate(pemFile: azCert).signingPublicKey()),
                                 "altered hash \(position) accepted")
        }
        var otherEntry = proof
        otherEntry.entry = try LogStore(directory: dir, readOnly: true).entry(at: 40).encoded().hexString
        let bad = try iias(["audit", "check-proof", try write(String(decoding: try JSONEncoder().encode(otherEntry), as: UTF8.self)),
                            "--cert", azCert])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("does not verify"), bad.stderr)

        let foreign = try iias(["audit", "check-proof", path, "--cert", pki.centerDirectory("GE") + "/signing.crt"])
        XCTAssertEqual(foreign.status, 1, "a proof signed by AZ must not verify with GE's certificate")
    }

    func testConsistencyProofVerifiesAndDetectsARewrittenPrefix() async throws {
        let dir = try await makeLog(entries: 50)
        let made = try iias(["log", "consistency", dir, "--from", "13", "--to", "50", "--key-dir", pki.centerDirectory("AZ")])
        XCTAssertEqual(made.status, 0, made.stderr)
        let ok = try iias(["audit", "check-proof", try write(made.stdout), "--cert", azCert])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("50 entries"), ok.stdout)

        // A first tree head for a different history (another log's root at size 13),
        // signed by the same key: the proof must fail.
        let other = try await makeLog(entries: 13)
        let otherRoot = try LogStore(directory: other, readOnly: true).merkleTree().rootHash(treeSize: 13)
        let key = try PrivateKeyFile.loadSigningKey(pki.centerDirectory("AZ") + "/signing.key")
        var proof = try JSONDecoder().decode(LogProof.self, from: Data(made.stdout.utf8))
        proof.firstCheckpoint = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: 13, rootHash: otherRoot)
            .signedNote(name: "AZ", key: key)
        XCTAssertThrowsError(try proof.verify(publicKey: key.publicKey)) { error in
            XCTAssertEqual(error as? LogProofError, .invalid("the tree of size 13 is not a prefix of the tree of size 50"))
        }
    }

    func testBadInputGetsExitTwo() async throws {
        let dir = try await makeLog(entries: 5)
        let outOfRange = try iias(["log", "proof", dir, "--index", "5", "--key-dir", pki.centerDirectory("AZ")])
        XCTAssertEqual(outOfRange.status, 2)
        XCTAssertTrue(outOfRange.stderr.contains("index 5"), outOfRange.stderr)
        let backwards = try iias(["log", "consistency", dir, "--from", "4", "--to", "2", "--key-dir", pki.centerDirectory("AZ")])
        XCTAssertEqual(backwards.status, 2)
        let noKey = try iias(["log", "proof", dir, "--index", "1"])
        XCTAssertEqual(noKey.status, 2)
        XCTAssertTrue(noKey.stderr.contains("--key-dir"), noKey.stderr)
        let missingLog = try iias(["log", "proof", dir + "/nope", "--index", "0", "--key-dir", pki.centerDirectory("AZ")])
        XCTAssertEqual(missingLog.status, 2)

        for garbage in ["", "{", "[1,2]", "{\"kind\":\"inclusion\"}", String(repeating: "x", count: 100)] {
            let result = try iias(["audit", "check-proof", try write(garbage), "--cert", azCert])
            XCTAssertEqual(result.status, 2, "\(garbage.prefix(20)): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("not a proof document"), result.stderr)
        }
        let hugeFile = try write(String(repeating: " ", count: LogProof.maximumSize + 1))
        XCTAssertEqual(try iias(["audit", "check-proof", hugeFile, "--cert", azCert]).status, 1)
        XCTAssertEqual(try iias(["audit", "check-proof", dir + "/none.json", "--cert", azCert]).status, 2)
    }
}
