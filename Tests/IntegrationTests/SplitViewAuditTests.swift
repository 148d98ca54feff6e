import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import XCTest

/// `iias audit split-view` on evidence files made here: two checkpoints of AZ's log
/// signed by AZ's key at one size verify; an altered, a forged or a consistent pair is refused.
final class SplitViewAuditTests: XCTestCase {
    private let pki = TestPKI.shared

    private func note(size: UInt64, root: UInt8, signer: String = "AZ") throws -> SignedNote {
        let key = try CenterKeys(directory: pki.centerDirectory(signer)).signingKey
        let checkpoint = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: size, rootHash: Array(repeating: root, count: 32))
        return try SignedNote(parsing: checkpoint.signedNote(key: key))
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
