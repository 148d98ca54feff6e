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
/// `iias audit split-view` verifies. Of two sizes, each witness asks the log for the
/// consistency proof between them and keeps evidence when the proof does not verify.
final class GossipTests: XCTestCase {
    /// The centers that asked the hand-played log a consistency question.
    private actor Askers {
        var names: [String] = []
        func add(_ name: String) { names.append(name) }
    }

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
        try cluster.start("GE", logLevel: "debug")
        try cluster.start("UA", logLevel: "debug")
        defer { cluster.stopAll() }
        let first = tree("first", size: 7), second = tree("second", size: 7)
        var (toGE, fromGE) = try await TestPeer.connect(as: "AZ", port: cluster.ports["GE"]!, expecting: "GE")
        var (toUA, fromUA) = try await TestPeer.connect(as: "AZ", port: cluster.ports["UA"]!, expecting: "UA")
        defer { toGE.close(promise: nil); toUA.close(promise: nil) }

        // Bad input: gossip that does not parse is passed over.
        try await toGE.writeAndFlush(Frame.history(.checkpointGossip, Array("99999999\nnot a note".utf8))).get()
        try await eventually("GE passed over the garbage") { cluster.errorOutput("GE").contains("CHECKPOINT_GOSSIP frame that does not parse") }
        let statusAt5 = try await offer(try request(first, size: 5, old: 0), on: toGE, &fromGE)
        XCTAssertEqual(statusAt5, 200)
        let statusUA = try await offer(try request(second, size: 7, old: 0), on: toUA, &fromUA)
        XCTAssertEqual(statusUA, 200, "each witness alone sees a consistent log")
        try await eventually("GE heard of UA's tree of another size") {
            cluster.errorOutput("GE").contains("a gossiped checkpoint of another size: asking the log")
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
        XCTAssertTrue(cluster.errorOutput("UA").contains("split view"), "UA's operators are told")
        XCTAssertTrue(cluster.isRunning("GE") && cluster.isRunning("UA"))
    }

    /// AZ's answer to a `consistency FROM TO` question in `body`: the proof `tree` gives.
    private static func answer(_ body: [UInt8], from tree: InMemoryMerkleTree) throws -> Frame? {
        let lines = String(decoding: body, as: UTF8.self).split(separator: "\n")
        let words = lines.first?.split(separator: " ") ?? []
        guard words.count == 3, words[0] == "consistency", let from = UInt64(words[1]), let to = UInt64(words[2]) else { return nil }
        let proof = try tree.consistencyProof(from: from, to: to).map { Data($0).base64EncodedString() + "\n" }.joined()
        return Frame.history(.logState, Array("proof \(from) \(to)\n\(lines[1])\n\(proof)".utf8))
    }

    /// Plays the log's side of consistency questions: each session's questions are answered
    /// with `tree`'s proof on `links[peer]`, and the asker is noted.
    private static func answerQuestions(_ sessions: AsyncStream<(Channel, String, AsyncStream<Frame>)>, on links: [String: Channel],
                                        from tree: InMemoryMerkleTree, noting asked: Askers) -> Task<Void, Never> {
        Task { await withTaskGroup(of: Void.self) { group in
            for await session in sessions {
                let peer = session.1, frames = session.2
                group.addTask {
                    for await frame in frames {
                        guard case .history(.logState, let body) = frame, let reply = try? answer(body, from: tree) else { continue }
                        await asked.add(peer)
                        try? await links[peer]?.writeAndFlush(reply).get()
                    }
                }
            }
        } }
    }

    func testALogThatLeavesAQuestionUnansweredRaisesAnAlarmThatGoesWhenItAnswers() async throws {
        let cluster = try NodeCluster(["GE", "UA"], peers: ["GE": ["AZ", "UA"], "UA": ["AZ", "GE"]], extra: ["witness": ["proofWaitSeconds": 2]])
        let listening = try await TestPeer.listen(as: "AZ", accepting: ["GE", "UA"], port: cluster.ports["AZ"]!)
        let server = listening.server
        defer { server.close(promise: nil) }
        try cluster.start("GE")
        try cluster.start("UA")
        defer { cluster.stopAll() }
        let honest = tree("first", size: 7)
        let ge = try await TestPeer.connect(as: "AZ", port: cluster.ports["GE"]!, expecting: "GE")
        let ua = try await TestPeer.connect(as: "AZ", port: cluster.ports["UA"]!, expecting: "UA")
        let toGE = ge.0, toUA = ua.0
        var fromGE = ge.1, fromUA = ua.1
        defer { toGE.close(promise: nil); toUA.close(promise: nil) }
        // AZ hears the questions but does not answer.
        let silent = Task { for await session in listening.sessions { for await _ in session.2 {} } }
        defer { silent.cancel() }
        let at5 = try await offer(try request(honest, size: 5, old: 0), on: toGE, &fromGE)
        let at7 = try await offer(try request(honest, size: 7, old: 0), on: toUA, &fromUA)
        XCTAssertEqual([at5, at7], [200, 200])
        try await eventually("GE raised the unproven alarm", timeout: 30) { cluster.errorOutput("GE").contains("unproven: AZ has not answered") }
        let status = try LocalCluster.iias(["status", "--socket", cluster.socketPath("GE"), "--check-history"])
        XCTAssertEqual(status.status, 4, status.stdout)
        XCTAssertTrue(status.stdout.contains("UNPROVEN"), status.stdout)

        // AZ answers at last, with a proof that verifies: the alarm goes, nothing is kept as evidence.
        let proof = try honest.consistencyProof(from: 5, to: 7).map { Data($0).base64EncodedString() + "\n" }.joined()
        try await toGE.writeAndFlush(Frame.history(.logState, Array("proof 5 7\niias:center:AZ/log\n\(proof)".utf8))).get()
        try await eventually("the alarm went") { try LocalCluster.iias(["status", "--socket", cluster.socketPath("GE"), "--check-history"]).status == 0 }
        XCTAssertEqual(evidence("GE", cluster), [])
    }

    func testALogShowingTwoWitnessesTreesOfDifferentSizesIsCaughtByAConsistencyProof() async throws {
        let cluster = try NodeCluster(["GE", "UA"], peers: ["GE": ["AZ", "UA"], "UA": ["AZ", "GE"]])
        // AZ listens where GE and UA look for it, so that their questions reach it.
        let listening = try await TestPeer.listen(as: "AZ", accepting: ["GE", "UA"], port: cluster.ports["AZ"]!)
        let server = listening.server, sessions = listening.sessions
        defer { server.close(promise: nil) }
        try cluster.start("GE", logLevel: "debug")
        try cluster.start("UA", logLevel: "debug")
        defer { cluster.stopAll() }
        let honest = tree("first", size: 9)
        var forked = tree("first", size: 7)
        for index in 7..<11 { forked.append(leafHash: Merkle.hashLeaf(Array("forked \(index)".utf8))) }
        let ge = try await TestPeer.connect(as: "AZ", port: cluster.ports["GE"]!, expecting: "GE")
        let ua = try await TestPeer.connect(as: "AZ", port: cluster.ports["UA"]!, expecting: "UA")
        let toGE = ge.0, toUA = ua.0
        var fromGE = ge.1, fromUA = ua.1
        defer { toGE.close(promise: nil); toUA.close(promise: nil) }

        // AZ answers each question with what its forked tree can prove, on its link to the asker.
        let links = ["GE": toGE, "UA": toUA], forkedTree = forked
        let asked = Askers()
        let answering = Self.answerQuestions(sessions, on: links, from: forkedTree, noting: asked)
        defer { answering.cancel() }

        // Two sizes of one tree: the proof verifies, nothing is kept.
        let at5 = try await offer(try request(honest, size: 5, old: 0), on: toGE, &fromGE)
        let at7 = try await offer(try request(honest, size: 7, old: 0), on: toUA, &fromUA)
        XCTAssertEqual([at5, at7], [200, 200])
        try await eventually("GE and UA each proved the other's checkpoint consistent with its own", timeout: 30) {
            ["GE", "UA"].allSatisfy { cluster.errorOutput($0).contains("a gossiped checkpoint of another size is consistent with ours") }
        }
        XCTAssertEqual(evidence("GE", cluster) + evidence("UA", cluster), [])

        // GE is shown the honest tree grow to 9, UA a fork of it grown to 11: each alone is consistent.
        let at9 = try await offer(try request(honest, size: 9, old: 5), on: toGE, &fromGE)
        let at11 = try await offer(try request(forked, size: 11, old: 7), on: toUA, &fromUA)
        XCTAssertEqual([at9, at11], [200, 200])
        // Which questions meet which state depends on timing (UA may first be asked about GE's
        // tree of 9 while it holds 7): each witness keeps at least one piece, each verifies.
        do {
            try await eventually("GE and UA keep evidence of the fork", timeout: 30) { !self.evidence("GE", cluster).isEmpty && !self.evidence("UA", cluster).isEmpty }
        } catch {
            for center in ["GE", "UA"] { print(center, cluster.errorOutput(center).split(separator: "\n").filter { $0.contains("onsisten") || $0.contains("split") || $0.contains("gossip") }.joined(separator: "\n")) }
            throw error
        }
        let askers = await asked.names
        XCTAssertTrue(Set(askers).isSuperset(of: ["GE", "UA"]), "both asked AZ: \(askers)")
        for file in evidence("GE", cluster) + evidence("UA", cluster) {
            let audited = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "split-view", file, "--ca", pki.caFile, "--certs", pki.centersDirectory], timeout: 60)
            XCTAssertEqual(audited.status, 0, audited.stdout + audited.stderr)
            XCTAssertTrue(audited.stdout.contains("does not verify"), audited.stdout)
        }
        XCTAssertTrue(cluster.errorOutput("UA").contains("split view") && cluster.errorOutput("GE").contains("split view"), "the operators are told")
        XCTAssertEqual(cluster.heldSize(of: "AZ", by: "GE"), 9, "nothing changed in what GE cosigned")

        // Bad input: a proof nobody asked for, a question about a size GE's log does not have,
        // garbage: each passed over, the node serves on.
        let hash = Data(repeating: 1, count: 32).base64EncodedString()
        for body in ["proof 3 4\niias:center:AZ/log\n\(hash)\n", "consistency 1 999999\niias:center:GE/log\n", "consistency 0 5\niias:center:GE/log\n",
                     "proof 3 4\niias:center:AZ/log\nnot base64\n", "consistency 1 2\nexample.org/log\n"] {
            try await toGE.writeAndFlush(Frame.history(.logState, Array(body.utf8))).get()
        }
        try await eventually("GE passed over each") {
            let output = cluster.errorOutput("GE")
            return output.contains("a consistency proof we did not ask for") && output.contains("a consistency proof our log cannot give")
                && output.components(separatedBy: "a LOG_STATE frame that does not parse").count == 4
        }
        let again = try await offer(try request(honest, size: 9, old: 9), on: toGE, &fromGE)
        XCTAssertEqual(again, 200, "GE serves on")
    }
}
