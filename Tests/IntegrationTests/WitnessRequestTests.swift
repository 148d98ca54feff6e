import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASTestSupport
import IIASTransport
import NIOCore
import XCTest

/// A real node as a witness, sent WITNESS_REQUEST frames by hand under AZ's TLS key:
/// each malformed or unauthorised request gets C2SP tlog-witness's status on the same
/// connection and the node serves on; a valid one is cosigned with GE's witness key; a
/// split view is refused and its evidence verifies offline with `iias audit split-view`.
final class WitnessRequestTests: XCTestCase {
    private let pki = TestPKI.shared

    private func signingKey(_ center: String) throws -> SigningPrivateKey { try CenterKeys(directory: pki.centerDirectory(center)).signingKey }

    /// A checkpoint note of `center`'s log (or of `origin`) at `size`, signed by `signer`'s key.
    private func note(of center: String, size: UInt64, root: UInt8, origin: String? = nil, signer: String? = nil) throws -> SignedNote {
        let checkpoint = Checkpoint(origin: origin ?? Checkpoint.origin(center: center), treeSize: size, rootHash: Array(repeating: root, count: 32))
        return try SignedNote(parsing: checkpoint.signedNote(key: try signingKey(signer ?? center)))
    }

    /// The status line and body of GE's answer to `body`, sent on `channel`.
    private func ask(_ body: String, on channel: Channel, frames: inout AsyncStream<Frame>.Iterator) async throws -> (status: Int, body: String) {
        try await channel.writeAndFlush(Frame.witnessRequest(Array(body.utf8)))
        guard case .witnessResponse(let answer)? = await frames.next() else { throw TestFailure("no WITNESS_RESPONSE") }
        let text = String(decoding: answer, as: UTF8.self)
        let newline = text.firstIndex(of: "\n") ?? text.endIndex
        return (Int(text[..<newline]) ?? -1, String(text[text.index(after: newline)...]))
    }

    func testWitnessRequestsGetTheSpecificationsAnswersAndASplitViewLeavesVerifiableEvidence() async throws {
        let metricsPort = try LocalCluster.freePort()
        let cluster = try NodeCluster(["GE"], peers: ["GE": ["AZ"]], extra: ["metrics": ["listen": "127.0.0.1:\(metricsPort)"]])
        try cluster.start("GE")
        defer { cluster.stopAll() }
        let events = try await cluster.client("GE").events(EventFilter(kinds: [.splitView]))
        let connection = try await TestPeer.connect(as: "AZ", port: cluster.ports["GE"]!)
        let channel = connection.0
        var frames = connection.1
        let first = try note(of: "AZ", size: 5, root: 1)

        let garbage = try await ask("hello\n", on: channel, frames: &frames)
        XCTAssertEqual(garbage.status, 400, garbage.body)
        let proof = String(repeating: Data(repeating: 7, count: 32).base64EncodedString() + "\n", count: 64)
        let tooLong = try await ask("old 1\n" + proof + "\n" + first.text, on: channel, frames: &frames)
        XCTAssertEqual(tooLong.status, 400, tooLong.body)
        XCTAssertTrue(tooLong.body.contains("64 consistency proof lines"), tooLong.body)
        let padded = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: 5, rootHash: Array(repeating: 1, count: 32)).body
            + String(repeating: "x", count: 65 << 10) + "\n"
        let oversize = try await ask("old 0\n\n" + padded + "\n— iias:center:AZ/log AAAA\n", on: channel, frames: &frames)
        XCTAssertEqual(oversize.status, 400, oversize.body)
        let unknown = try await ask("old 0\n\n" + (try note(of: "AZ", size: 5, root: 1, origin: "example.org/log")).text, on: channel, frames: &frames)
        XCTAssertEqual(unknown.status, 404, unknown.body)
        let anothers = try await ask("old 0\n\n" + (try note(of: "UA", size: 5, root: 1)).text, on: channel, frames: &frames)
        XCTAssertEqual(anothers.status, 403, "AZ may not submit UA's log: \(anothers.body)")
        let forged = try await ask("old 0\n\n" + (try note(of: "AZ", size: 5, root: 1, signer: "GE")).text, on: channel, frames: &frames)
        XCTAssertEqual(forged.status, 403, "signed by another key under AZ's name: \(forged.body)")

        // Still serving on the same connection: a valid request is cosigned, dated now.
        let cosigned = try await ask("old 0\n\n" + first.text, on: channel, frames: &frames)
        XCTAssertEqual(cosigned.status, 200, cosigned.body)
        let witness = try Certificate(pemFile: pki.centerDirectory("GE") + "/witness.crt").signingPublicKey()
        let line = try Cosignature.verify(note: first.adding(try SignedNote.signatures(parsing: Substring(cosigned.body))),
                                          name: Cosignature.name(center: "GE"), publicKey: witness, options: .init(maximumFutureSeconds: 5))
        XCTAssertLessThan(abs(Double(line.timestamp) - Date().timeIntervalSince1970), 60)
        let stale = try await ask("old 0\n\n" + first.text, on: channel, frames: &frames)
        XCTAssertEqual(stale.status, 409)
        XCTAssertEqual(stale.body, "5\n", "the size GE holds")

        // Same size, another root: never cosigned, the evidence kept.
        let contradiction = try await ask("old 5\n\n" + (try note(of: "AZ", size: 5, root: 2)).text, on: channel, frames: &frames)
        XCTAssertEqual(contradiction.status, 422, contradiction.body)
        let evidenceFolder = cluster.folder.appendingPathComponent("data-GE/evidence").path
        let files = try FileManager.default.contentsOfDirectory(atPath: evidenceFolder)
        XCTAssertEqual(files.count, 1, "\(files)")
        let audited = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "split-view", evidenceFolder + "/" + files[0],
                                                                             "--ca", pki.caFile, "--certs", pki.centersDirectory], timeout: 60)
        XCTAssertEqual(audited.status, 0, audited.stdout + audited.stderr)
        XCTAssertTrue(cluster.errorOutput("GE").contains("split view"), "an error line for the operators")
        var lines = events.makeAsyncIterator()
        let event = try await lines.next()
        XCTAssertEqual(event?.splitView, SplitViewReport(log: CenterID("AZ")!, treeSize: 5, evidence: evidenceFolder + "/" + files[0]))
        let status = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["status", "--socket", cluster.socketPath("GE")], timeout: 60)
        XCTAssertTrue(status.stdout.contains("SPLIT VIEW") && status.stdout.contains(files[0]), status.stdout + status.stderr)
        XCTAssertEqual(metricValue(try httpGet(port: metricsPort, path: "/metrics"), #"iias_split_view_total{log="AZ"}"#), 1)

        // Still serving after the split view, on the same connection.
        let again = try await ask("old 5\n\n" + first.text, on: channel, frames: &frames)
        XCTAssertEqual(again.status, 200, "the node serves on: \(again.body)")

        // A larger tree the log cannot prove grew from the one cosigned: never cosigned, kept too.
        let badProof = Data(repeating: 7, count: 32).base64EncodedString()
        let unproven = try await ask("old 5\n\(badProof)\n\n" + (try note(of: "AZ", size: 8, root: 3)).text, on: channel, frames: &frames)
        XCTAssertEqual(unproven.status, 422, unproven.body)
        let added = Set(try FileManager.default.contentsOfDirectory(atPath: evidenceFolder)).subtracting(files)
        XCTAssertEqual(added.count, 1, "\(added)")
        let inconsistent = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "split-view", evidenceFolder + "/" + added.first!,
                                                                                  "--ca", pki.caFile, "--certs", pki.centersDirectory], timeout: 60)
        XCTAssertEqual(inconsistent.status, 0, inconsistent.stdout + inconsistent.stderr)
        XCTAssertTrue(inconsistent.stdout.contains("sizes 5 and 8"), inconsistent.stdout)
        XCTAssertEqual(try WitnessFolder(dataDirectory: cluster.folder.appendingPathComponent("data-GE").path).state(ofLog: "AZ")?.checkpoint.treeSize, 5,
                       "the witness still holds the tree it cosigned")
    }
}
