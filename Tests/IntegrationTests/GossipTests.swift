import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import IIASTransport
import NIOCore
import XCTest

/// A log showing two witnesses different histories, each consistent alone: AZ (a
/// hand-made peer holding AZ's keys) shows GE a tree growing from 5 to 7 entries and UA
/// another tree of 7. The real nodes GE and UA gossip the checkpoints they cosigned; once
/// GE's own state reaches the size UA gossiped, both hold split-view evidence that
/// `iias audit split-view` verifies.
final class GossipTests: XCTestCase {
    private let pki = TestPKI.shared

    private func tree(_ prefix: String, size: Int) -> InMemoryMerkleTree {
        var tree = InMemoryMerkleTree()
        for index in 0..<size { tree.append(leafHash: Merkle.hashLeaf(Array("\(prefix) \(index)".utf8))) }
        return tree
    }

    /// AZ's add-checkpoint request for `tree` at `size`, from `old` with its consistency proof.
    private func request(_ tree: InMemoryMerkleTree, size: UInt64, old: UInt64) throws -> [UInt8] {
        let key = try CenterKeys(directory: pki.centerDirectory("AZ")).signingKey
        let note = try SignedNote(parsing: Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: size,
                                                      rootHash: try tree.rootHash(treeSize: size)).signedNote(key: key))
        let proof = old == 0 ? [] : try tree.consistencyProof(from: old, to: size)
        return Array(try AddCheckpointRequest(oldSize: old, proof: proof, note: note).text.utf8)
    }

    /// Sends WITNESS_REQUEST `body` and returns the status of the answer.
    private func offer(_ body: [UInt8], on channel: Channel, _ frames: inout AsyncStream<Frame>.Iterator) async throws -> Int {
        try await channel.writeAndFlush(Frame.witnessRequest(body)).get()
        while let frame = await frames.next() {
            guard case .witnessResponse(let answer) = frame else { continue }
            return Int(String(decoding: answer.prefix { $0 != 0x0A }, as: UTF8.self)) ?? -1
        }
        throw TestFailure("the witness closed the connection")
    }

    private func evidence(_ center: String, _ cluster: LocalCluster) -> [String] {
        let folder = cluster.folder.appendingPathComponent("data-\(center)/evidence").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".json") }.map { folder + "/" + $0 }
    }

    func testALogShowingTwoWitnessesDifferentHistoriesIsCaughtByGossip() async throws {
        let cluster = try NodeCluster(["GE", "UA"], peers: ["GE": ["AZ", "UA"], "UA": ["AZ", "GE"]])
        try cluster.start("GE")
        try cluster.start("UA")
        defer { cluster.stopAll() }
        let first = tree("first", size: 7), second = tree("second", size: 7)
        var (toGE, fromGE) = try await TestPeer.connect(as: "AZ", port: cluster.ports["GE"]!, expecting: "GE")
        var (toUA, fromUA) = try await TestPeer.connect(as: "AZ", port: cluster.ports["UA"]!, expecting: "UA")
        defer { toGE.close(promise: nil); toUA.close(promise: nil) }

        // Bad input: gossip that does not parse is passed over.
        try await toGE.writeAndFlush(Frame.history(.checkpointGossip, Array("99999999\nnot a note".utf8))).get()
        let statusAt5 = try await offer(try request(first, size: 5, old: 0), on: toGE, &fromGE)
        XCTAssertEqual(statusAt5, 200)
        let statusUA = try await offer(try request(second, size: 7, old: 0), on: toUA, &fromUA)
        XCTAssertEqual(statusUA, 200, "each witness alone sees a consistent log")
        try await eventually("GE heard of UA's tree of another size") {
            cluster.errorOutput("GE").contains("a gossiped checkpoint of another size waits")
        }
        XCTAssertEqual(evidence("GE", cluster), [], "different sizes prove nothing yet")

        let statusAt7 = try await offer(try request(first, size: 7, old: 5), on: toGE, &fromGE)
        XCTAssertEqual(statusAt7, 200, "consistent with what GE cosigned")
        try await eventually("GE and UA keep split-view evidence") { self.evidence("GE", cluster).count == 1 && self.evidence("UA", cluster).count == 1 }
        for file in evidence("GE", cluster) + evidence("UA", cluster) {
            let audited = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "split-view", file, "--ca", pki.caFile, "--certs", pki.centersDirectory], timeout: 60)
            XCTAssertEqual(audited.status, 0, audited.stdout + audited.stderr)
            XCTAssertTrue(audited.stdout.contains("split view of iias:center:AZ/log at size 7"), audited.stdout)
        }
        XCTAssertTrue(cluster.errorOutput("GE").contains("CHECKPOINT_GOSSIP frame that does not parse"))
        XCTAssertTrue(cluster.errorOutput("UA").contains("split view"), "UA's operators are told")
        XCTAssertTrue(cluster.isRunning("GE") && cluster.isRunning("UA"))
    }
}
