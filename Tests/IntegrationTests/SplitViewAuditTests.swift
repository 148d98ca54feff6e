import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import XCTest

/// `iias audit split-view` on evidence files made here: two checkpoints of AZ's log
/// signed by AZ's key at one size verify, and two sizes of two forked trees with the proof
/// the forked log gave; an altered, a forged or a consistent pair is refused.
final class SplitViewAuditTests: XCTestCase {
    private let pki = TestPKI.shared

    private func note(size: UInt64, root: UInt8, signer: String = "AZ") throws -> SignedNote {
        try note(size: size, rootHash: Array(repeating: root, count: 32), signer: signer)
    }

    private func note(size: UInt64, rootHash: [UInt8], signer: String = "AZ") throws -> SignedNote {
        let key = try CenterKeys(directory: pki.centerDirectory(signer)).signingKey
        let checkpoint = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: size, rootHash: rootHash)
        return try SignedNote(parsing: checkpoint.signedNote(key: key))
    }

    /// A tree of `size` leaves; from index `forkAt` on, the leaves of another history.
    private func tree(_ size: Int, forkAt: Int = .max) -> InMemoryMerkleTree {
        var tree = InMemoryMerkleTree()
        for i in 0..<size { tree.append(leafHash: Merkle.hashLeaf(Array("entry \(i)\(i >= forkAt ? " forked" : "")".utf8))) }
        return tree
    }

    /// Writes `evidence` as a witness would and audits it; the exit status and output.
    private func audit(_ evidence: SplitViewEvidence, in folder: WitnessFolder) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "split-view", try folder.save(evidence),
                                                               "--ca", pki.caFile, "--certs", pki.centersDirectory], timeout: 60)
    }

    func testEvidenceOfTwoRootsAtOneSizeVerifiesAndForgeriesAreRefused() throws {
        let folder = WitnessFolder(dataDirectory: try makeTemporaryDirectory("evidence").path)
        let genuine = SplitViewEvidence(stored: try note(size: 8, root: 1), received: try note(size: 8, root: 2))
        let verified = try audit(genuine, in: folder)
        XCTAssertEqual(verified.status, 0, verified.stderr)
        XCTAssertTrue(verified.stdout.contains("split view of iias:center:AZ/log at size 8"), verified.stdout)

        let received = try note(size: 8, root: 2)
        let altered = SplitViewEvidence(stored: try note(size: 8, root: 1),
                                        received: SignedNote(body: received.body.replacingOccurrences(of: "\n8\n", with: "\n9\n"), signatures: received.signatures))
        let alteredResult = try audit(altered, in: folder)
        XCTAssertEqual(alteredResult.status, 1, "an altered note: \(alteredResult.stdout)")
        let forged = try audit(SplitViewEvidence(stored: try note(size: 8, root: 1), received: try note(size: 8, root: 3, signer: "GE")), in: folder)
        XCTAssertEqual(forged.status, 1, "signed by GE's key under AZ's name")
        XCTAssertTrue(forged.stderr.contains("no valid signature"), forged.stderr)
        let agreeing = try audit(SplitViewEvidence(stored: try note(size: 8, root: 1), received: try note(size: 8, root: 1)), in: folder)
        XCTAssertEqual(agreeing.status, 1, "the same tree twice proves nothing")
        let garbage = try makeTemporaryDirectory("garbage").appendingPathComponent("x.json")
        try Data("{}".utf8).write(to: garbage)
        let unreadable = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "split-view", garbage.path, "--ca", pki.caFile,
                                                                                "--certs", pki.centersDirectory], timeout: 60)
        XCTAssertEqual(unreadable.status, 1, unreadable.stderr)
    }

    func testEvidenceOfTwoSizesTheLogCannotProveConsistentVerifiesAndAConsistentPairIsRefused() throws {
        let folder = WitnessFolder(dataDirectory: try makeTemporaryDirectory("evidence-sizes").path)
        let cosigned = tree(8), forked = tree(11, forkAt: 6), honest = tree(11)
        let stored = try note(size: 8, rootHash: try cosigned.rootHash(treeSize: 8))
        // What a forked log offers: its larger tree and the only proof it can make, from its own tree.
        let fork = SplitViewEvidence(stored: stored, received: try note(size: 11, rootHash: try forked.rootHash(treeSize: 11)),
                                     proof: try forked.consistencyProof(from: 8, to: 11))
        let verified = try audit(fork, in: folder)
        XCTAssertEqual(verified.status, 0, verified.stderr)
        XCTAssertTrue(verified.stdout.contains("sizes 8 and 11") && verified.stdout.contains("does not verify"), verified.stdout)

        // An honest log's two trees with a broken proof: the log refutes it with the right proof.
        var broken = try honest.consistencyProof(from: 8, to: 11)
        broken[0][0] ^= 1
        let honestNote = try note(size: 11, rootHash: try honest.rootHash(treeSize: 11))
        let refuted = try audit(SplitViewEvidence(stored: stored, received: honestNote, proof: try honest.consistencyProof(from: 8, to: 11)), in: folder)
        XCTAssertEqual(refuted.status, 1, "a proof that verifies is no evidence: \(refuted.stdout)")
        XCTAssertTrue(refuted.stderr.contains("prefix"), refuted.stderr)
        XCTAssertEqual(try audit(SplitViewEvidence(stored: stored, received: honestNote), in: folder).status, 1, "two sizes and no proof")
        let forgedSigner = try audit(SplitViewEvidence(stored: stored, received: try note(size: 11, rootHash: try forked.rootHash(treeSize: 11), signer: "GE"),
                                                       proof: broken), in: folder)
        XCTAssertEqual(forgedSigner.status, 1, "the larger note signed by GE's key under AZ's name")

        // A proof in the file that is not 32-byte hashes, or too many of them: malformed, exit 1.
        var text = String(decoding: fork.fileBytes, as: UTF8.self)
        let firstHash = Data(fork.proof![0]).base64EncodedString()
        for bad in ["AAAA", String(repeating: "A", count: 44)] {
            let file = try makeTemporaryDirectory("bad-proof").appendingPathComponent("e.json")
            try Data(text.replacingOccurrences(of: firstHash, with: bad).utf8).write(to: file)
            let result = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "split-view", file.path, "--ca", pki.caFile,
                                                                                "--certs", pki.centersDirectory], timeout: 60)
            XCTAssertEqual(result.status, 1, "proof hash \(bad): \(result.stdout)")
        }
        text = text.replacingOccurrences(of: "\"\(firstHash)\"", with: Array(repeating: "\"\(firstHash)\"", count: 64).joined(separator: ","))
        XCTAssertThrowsError(try SplitViewEvidence(file: Array(text.utf8)), "64 proof hashes")
        XCTAssertEqual(try SplitViewEvidence(file: fork.fileBytes), fork)
    }

    func testEvidenceAlreadyKeptIsNeverOverwritten() throws {
        let folder = WitnessFolder(dataDirectory: try makeTemporaryDirectory("evidence-once").path)
        let evidence = SplitViewEvidence(stored: try note(size: 3, root: 1), received: try note(size: 3, root: 2))
        let path = try folder.save(evidence)
        try Data("kept".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try folder.save(evidence), path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "kept", "the file found first stays")
        XCTAssertEqual(try SplitViewEvidence(file: evidence.fileBytes), evidence)
    }
}
