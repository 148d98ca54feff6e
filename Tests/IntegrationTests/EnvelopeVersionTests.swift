import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import XCTest

/// A rolling upgrade: a node set to `"envelopeVersion": 1` seals sealed boxes, which
/// every build reads, while its upgraded peer seals version 3; each reads the other's.
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

        for (center, id, version) in [("GE", fromAZ.id, UInt8(1)), ("AZ", fromGE.id, UInt8(3))] {
            let out = try makeTemporaryDirectory("export").appendingPathComponent("envelope.iias").path
            let export = try ProcessRunner.run(RepositoryPaths.iiasExecutable,
                                               ["log", "export", cluster.logDirectory(center), "--id", id.uuidString.lowercased(), "--out", out],
                                               timeout: 60)
            XCTAssertEqual(export.status, 0, export.stderr)
            let envelope = try Envelope(parsing: [UInt8](try Data(contentsOf: URL(fileURLWithPath: out))))
            XCTAssertEqual(envelope.version, version, "the envelope \(center) received")
            XCTAssertEqual(envelope.header.ephemeral == nil, version == 1)
            XCTAssertEqual(envelope.header.signer == nil, version == 1, "version 3 names its signing key")
        }
    }

    /// Notifications queued while the recipient was down arrive together when it starts;
    /// a version 2 sender has them answered by signed batches of receipts (fewer receipt
    /// entries in its log than notifications), a version 1 sender, whose build may read
    /// only single receipts, one receipt each. Either log verifies.
    func testEnvelopesArrivingTogetherShareASignedReceiptOnlyWhenTheirSenderSealsVersion2() async throws {
        for version in [3, 2, 1] {
            let cluster = try NodeCluster(["AZ", "GE"], extra: ["envelopeVersion": version])
            defer { cluster.stopAll() }
            try cluster.start("AZ")
            var ids: [UUID] = []
            for n in 0..<40 {
                ids.append(try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "Queued \(n) for a peer that is down")).id)
            }
            try cluster.start("GE")
            try await eventually("all 40 delivered (version \(version))") {
                for id in ids where try await cluster.client("AZ").delivery(of: id).recipients.contains(where: { $0.state != .delivered }) {
                    return false
                }
                return true
            }
            cluster.stopAll()

            let log = try LogStore(directory: cluster.logDirectory("AZ"), readOnly: true)
            var receiptEntries = 0
            var answered: [UUID] = []
            for index in 0..<log.count {
                let entry = try log.entry(at: index)
                guard entry.type == .receipt else { continue }
                let header = try Envelope(parsing: entry.payload).header
                receiptEntries += 1
                if version == 1 { XCTAssertNil(header.receiptBatch, "a version 1 sender gets single receipts") }
                XCTAssertEqual(header.signer != nil, version == 3, "receipts name their signer exactly when answering version 3")
                answered += header.receipts.map(\.envelopeID)
            }
            XCTAssertEqual(answered.sorted { $0.uuidString < $1.uuidString }, ids.sorted { $0.uuidString < $1.uuidString },
                           "each notification answered exactly once in the log")
            if version >= 2 {
                XCTAssertLessThan(receiptEntries, ids.count, "some receipts shared a signature")
            } else {
                XCTAssertEqual(receiptEntries, ids.count)
            }
            let verify = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["log", "verify", cluster.logDirectory("AZ")], timeout: 120)
            XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        }
    }
}
