import Foundation
import IIASTestSupport
import IIASTransport
import NIOCore
import XCTest

/// A peer running a version from before the history frames: GE played by hand refuses
/// the first LOG_STATE as an unknown type and closes, as such a node does. The real node
/// AZ notes it, reconnects, and sends GE no history frame again, so the link stays up.
final class HistoryFramesOldPeerTests: XCTestCase {
    func testAPeerThatRefusesHistoryFramesIsSentNoneAgain() async throws {
        let (server, port, sessions) = try await TestPeer.listen(as: "GE", expecting: "AZ")
        defer { server.close(promise: nil) }
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": ["GE"]])
        try cluster.writeConfiguration("AZ", pki: TestPKI.shared.layout, peers: ["GE"], users: ["\(LocalCluster.currentUser)=operator"],
                                       extra: ["treeHeadIntervalSeconds": 1], addresses: ["GE": "127.0.0.1:\(port)"])
        try cluster.start("AZ")
        defer { cluster.stopAll() }
        var connections = sessions.makeAsyncIterator()
        guard let (first, stream) = await connections.next() else { return XCTFail("AZ did not connect") }
        var frames = stream.makeAsyncIterator()
        while let frame = await frames.next() {
            guard case .history(let type, _) = frame else { continue }
            XCTAssertEqual(type, .logState, "the first history frame on a new link")
            try await first.writeAndFlush(Frame.error(code: 1, reason: "unknownType(\(type.rawValue))"))
            try? await first.close()
            break
        }
        try await eventually("AZ noted that GE does not know history frames") {
            cluster.errorOutput("AZ").contains("does not know history frames")
        }
        guard let (second, again) = await connections.next() else { return XCTFail("AZ did not reconnect") }
        var resumed = again.makeAsyncIterator()
        // Whatever AZ sends when a link comes up precedes the request for a tree head signed after it.
        _ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "To an earlier node"))
        while let frame = await resumed.next() {
            if case .history = frame { return XCTFail("GE was sent a history frame again") }
            if case .witnessRequest = frame { break }
        }
        XCTAssertTrue(second.isActive, "the link stays up")
    }
}
