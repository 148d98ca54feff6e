import Foundation
import IIASCrypto
import IIASTestSupport
import XCTest

/// A rolling upgrade: a node set to `"envelopeVersion": 1` seals sealed boxes, which
/// every build reads, while its upgraded peer seals version 2; each reads the other's.
final class EnvelopeVersionTests: XCTestCase {
    func testANodeOnVersion1AndAPeerOnVersion2ReadEachOther() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: ["envelopeVersion": 1])
        try cluster.writeConfiguration("GE", pki: TestPKI.shared.layout, peers: ["AZ"], users: ["\(NodeCluster.currentUser)=operator"])
        try cluster.startAll()
        let fromAZ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Sealed boxes, for a peer not yet upgraded"))
        let fromGE = try await cluster.client("GE").submit(NodeCluster.draft(to: ["AZ"], subject: "Wrapped under GE's epoch key"))
        try await eventually("both delivered") {
            let a = try await cluster.client("AZ").delivery(of: fromAZ.id), g = try await cluster.client("GE").delivery(of: fromGE.id)
            return a.recipients.allSatisfy { $0.state == .delivered } && g.recipients.allSatisfy { $0.state == .delivered }
        }
        let readAtGE = try await cluster.client("GE").read(fromAZ.id)
        XCTAssertEqual(readAtGE.notification.subject, "Sealed boxes, for a peer not yet upgraded")
        let readAtAZ = try await cluster.client("AZ").read(fromGE.id)
        XCTAssertEqual(readAtAZ.notification.subject, "Wrapped under GE's epoch key")
        cluster.stopAll()

        for (center, id, version) in [("GE", fromAZ.id, UInt8(1)), ("AZ", fromGE.id, UInt8(2))] {
            let out = try makeTemporaryDirectory("export").appendingPathComponent("envelope.iias").path
            let export = try ProcessRunner.run(RepositoryPaths.iiasExecutable,
                                               ["log", "export", cluster.logDirectory(center), "--id", id.uuidString.lowercased(), "--out", out],
                                               timeout: 60)
            XCTAssertEqual(export.status, 0, export.stderr)
            let envelope = try Envelope(parsing: [UInt8](try Data(contentsOf: URL(fileURLWithPath: out))))
            XCTAssertEqual(envelope.version, version, "the envelope \(center) received")
            XCTAssertEqual(envelope.header.ephemeral == nil, version == 1)
        }
    }
}
