import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import IIASTransport
import NIOCore
import XCTest

/// A real node as a log, its peer GE played by hand: a cosignature dated a day ahead, one made
/// with another witness's key, named for another witness or of another checkpoint is not
/// kept (and the same checkpoint is not asked for again), a 409 is retried once from
/// the size GE says it holds, and a good cosignature of the next tree head is kept.
final class CosignatureIntakeTests: XCTestCase {
    /// The next WITNESS_REQUEST on `frames`, read as a request.
    private func nextRequest(_ frames: inout AsyncStream<Frame>.Iterator) async throws -> AddCheckpointRequest {
        while let frame = await frames.next() {
            if case .witnessRequest(let body) = frame { return try AddCheckpointRequest(parsing: String(decoding: body, as: UTF8.self)) }
        }
        throw TestFailure("the connection closed before a WITNESS_REQUEST")
    }

    private func answer(_ request: AddCheckpointRequest, at timestamp: UInt64, on channel: Channel) async throws {
        let key = try XCTUnwrap(try CenterKeys(directory: TestPKI.shared.centerDirectory("GE")).witnessKey)
        let cosignature = Cosignature.sign(body: request.note.body, name: Cosignature.name(center: "GE"), key: key, timestamp: timestamp)
        try await channel.writeAndFlush(Frame.witnessResponse(Array("200\n\(cosignature.line)".utf8)))
    }

    /// AZ's node with this test listening as its peer GE, and AZ's first connection to it.
    private struct HandPlayedPeer {
        let cluster: LocalCluster
        let server: Channel
        let channel: Channel
        let frames: AsyncStream<Frame>.Iterator
        /// The connections AZ opens after the first (each once HELLO is through).
        let connections: AsyncStream<(Channel, AsyncStream<Frame>)>.Iterator

        func stop() {
            server.close(promise: nil)
            cluster.stopAll()
        }
    }

    private func startAZWithGEPlayedByHand() async throws -> HandPlayedPeer {
        let (server, port, sessions) = try await TestPeer.listen(as: "GE", expecting: "AZ")
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": ["GE"]])
        try cluster.writeConfiguration("AZ", pki: TestPKI.shared.layout, peers: ["GE"], users: ["\(LocalCluster.currentUser)=operator"],
                                       extra: ["treeHeadIntervalSeconds": 1], addresses: ["GE": "127.0.0.1:\(port)"])
        do { try cluster.start("AZ") } catch { server.close(promise: nil); throw error }
        var connections = sessions.makeAsyncIterator()
        guard let (channel, stream) = await connections.next() else {
            server.close(promise: nil)
            cluster.stopAll()
            throw TestFailure("AZ did not connect")
        }
        return HandPlayedPeer(cluster: cluster, server: server, channel: channel, frames: stream.makeAsyncIterator(), connections: connections)
    }

    func testAFutureDatedCosignatureIsRefusedAConflictRetriedAndAGoodOneKept() async throws {
        let az = try await startAZWithGEPlayedByHand()
        defer { az.stop() }
        let cluster = az.cluster, channel = az.channel
        var frames = az.frames
        let kept = cluster.folder.appendingPathComponent("data-AZ/witness/cosigned-by/GE.note").path

        _ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Witnessed by hand"))
        let first = try await nextRequest(&frames)
        XCTAssertEqual(first.oldSize, 0)
        XCTAssertTrue(first.proof.isEmpty)
        try await answer(first, at: UInt64(Date().timeIntervalSince1970) + 86_400, on: channel)
        try await eventually("AZ refused the future-dated cosignature") { cluster.errorOutput("AZ").contains("was not kept") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: kept))

        // Cosignatures that do not stand for GE witnessing this log: made with UA's witness key
        // under GE's name, named for UA's witness, or of another checkpoint. None is kept.
        let uaKey = try XCTUnwrap(try CenterKeys(directory: TestPKI.shared.centerDirectory("UA")).witnessKey)
        let geKey = try XCTUnwrap(try CenterKeys(directory: TestPKI.shared.centerDirectory("GE")).witnessKey)
        let now = UInt64(Date().timeIntervalSince1970)
        let wrong: [(AddCheckpointRequest) -> Cosignature] = [
            { Cosignature.sign(body: $0.note.body, name: Cosignature.name(center: "GE"), key: uaKey, timestamp: now) },
            { Cosignature.sign(body: $0.note.body, name: Cosignature.name(center: "UA"), key: uaKey, timestamp: now) },
            { Cosignature.sign(body: $0.note.body.replacingOccurrences(of: "\n\($0.checkpoint.treeSize)\n", with: "\n\($0.checkpoint.treeSize + 1)\n"),
                               name: Cosignature.name(center: "GE"), key: geKey, timestamp: now) },
        ]
        for (number, cosign) in wrong.enumerated() {
            _ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Cosigned wrongly \(number)"))
            let request = try await nextRequest(&frames)
            try await channel.writeAndFlush(Frame.witnessResponse(Array("200\n\(cosign(request).line)".utf8)))
            try await eventually("AZ refused wrong cosignature \(number)") {
                cluster.errorOutput("AZ").components(separatedBy: "was not kept").count - 1 == number + 2
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: kept), "wrong cosignature \(number) kept")
        }

        // The next tree head (a second notification) comes as the next request, not the same one again.
        _ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Witnessed by hand, again"))
        let second = try await nextRequest(&frames)
        XCTAssertGreaterThan(second.checkpoint.treeSize, first.checkpoint.treeSize)
        try await channel.writeAndFlush(Frame.witnessResponse(Array("409\n\(first.checkpoint.treeSize)\n".utf8)))
        let retried = try await nextRequest(&frames)
        XCTAssertEqual(retried.oldSize, first.checkpoint.treeSize, "asked again from the size GE holds")
        XCTAssertEqual(retried.checkpoint, second.checkpoint)
        XCTAssertFalse(retried.proof.isEmpty, "with a consistency proof from that size")
        XCTAssertTrue(Merkle.verifyConsistency(firstSize: first.checkpoint.treeSize, secondSize: retried.checkpoint.treeSize,
                                               firstRoot: first.checkpoint.rootHash, secondRoot: retried.checkpoint.rootHash, proof: retried.proof))
        try await answer(retried, at: UInt64(Date().timeIntervalSince1970), on: channel)
        try await eventually("AZ kept GE's cosignature") { FileManager.default.fileExists(atPath: kept) }
        let note = try SignedNote(parsing: try String(contentsOfFile: kept, encoding: .utf8))
        XCTAssertEqual(note.body, retried.note.body)
        let printed = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["log", "checkpoint", cluster.logDirectory("AZ")], timeout: 60)
        XCTAssertTrue(printed.stdout.contains("— iias:center:GE/witness "), printed.stdout + printed.stderr)
    }

    func testAPeerOnAnEarlierVersionIsAskedOnceAndItsLinkThenStaysUp() async throws {
        let az = try await startAZWithGEPlayedByHand()
        defer { az.stop() }
        let cluster = az.cluster, first = az.channel
        var frames = az.frames, accepted = az.connections
        _ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "To an earlier node"))
        _ = try await nextRequest(&frames)
        // What a node before witnessing answers an unknown frame type: ERROR 1, then close.
        try await first.writeAndFlush(Frame.error(code: 1, reason: "bad frame: unknownType(\(FrameType.witnessRequest.rawValue))"))
        try? await first.close()   // AZ may have closed it first, on reading the ERROR
        try await eventually("AZ noted that GE does not know witness requests") {
            cluster.errorOutput("AZ").contains("does not know witness requests")
        }
        guard let (second, again) = await accepted.next() else { return XCTFail("AZ did not reconnect") }
        var resumed = again.makeAsyncIterator()
        // A new tree head over a second notification is not offered to GE: by the time it is
        // signed and a PING makes the round trip, no WITNESS_REQUEST came before the PONG.
        let before = try await cluster.client("AZ").status().treeHead?.treeSize ?? 0
        _ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "To an earlier node, again"))
        try await eventually("AZ signed a new tree head") { (try await cluster.client("AZ").status().treeHead?.treeSize ?? 0) > before }
        try await second.writeAndFlush(Frame.ping([4, 2]))
        while let frame = await resumed.next() {
            if case .witnessRequest = frame { return XCTFail("GE was asked again") }
            if case .pong = frame { break }
        }
        XCTAssertTrue(second.isActive, "the link stays up")
    }
}
