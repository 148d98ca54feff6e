import Foundation
import IIASAPI
import IIASLog
import IIASTestSupport
import XCTest

/// A node rolled back to an older copy of its data while its witnesses are down, which then
/// takes new traffic alone and signs tree heads of a second history — real processes. When
/// its witnesses return, nothing of that history is cosigned; each witness keeps the
/// contradicting tree head as evidence an auditor verifies and raises its alarm; the node
/// begins its next epoch, gets back every notification its peers hold receipts for, exactly
/// once, and what it sent meanwhile is delivered once.
final class ForkedRestoreTests: XCTestCase {
    private let pki = TestPKI.shared
    private let oldOrigin = "iias:center:GE/log"
    private let witnesses = ["AZ", "UA"]

    func testARestoredNodeSigningASecondHistoryIsCaughtByItsWitnessesAndRefilledOnce() async throws {
        let cluster = try NodeCluster(["AZ", "GE", "UA"], extra: ["treeHeadIntervalSeconds": 1])
        try cluster.startAll()
        defer { cluster.stopAll() }
        // A snapshot of GE's data (no marker), then more traffic the witnesses cosign.
        let outgrown = try await cluster.snapshotThenOutgrow(witnesses: witnesses)
        let (copy, copySize, receipted, cosigned) = (outgrown.copy, outgrown.copySize, outgrown.receipted, outgrown.cosigned)
        let witnessed = cosigned.values.map(\.treeSize).max()!

        // The witnesses are down; GE comes back from the copy and its operators send on, until
        // it signed a tree head of its old origin at least as large as what they cosigned.
        for witness in witnesses { XCTAssertEqual(cluster.stop(witness), 0) }
        try LocalCluster.copyDirectory(copy, to: cluster.dataDirectory("GE"))
        try cluster.start("GE")
        var sent: [UUID] = []
        for number in 0..<Int(witnessed - copySize + 2) {   // each logs at least one entry
            sent.append(try await cluster.client("GE").submit(NodeCluster.draft(to: witnesses, subject: "alone \(number)")).id)
        }
        try await eventually("GE signed a tree head of its old origin beyond what its witnesses cosigned", timeout: 30) {
            let head = try await cluster.client("GE").status().treeHead
            return head.map { $0.treeSize >= witnessed && $0.checkpoint.hasPrefix(self.oldOrigin + "\n") } == true
        }

        // The witnesses return.
        for witness in witnesses { try cluster.start(witness) }
        try await eventually("GE says it was restored", timeout: 60) { cluster.errorOutput("GE").contains("log-restored: our log holds") }
        do {
            try await eventually("each witness keeps evidence of GE's second history and says so", timeout: 60) {
                self.witnesses.allSatisfy { !WitnessFolder(dataDirectory: cluster.dataDirectory($0)).evidenceFiles().isEmpty && cluster.errorOutput($0).contains("split view") }
            }
        } catch {
            for center in ["GE"] + witnesses {
                print(center, cluster.errorOutput(center).split(separator: "\n").filter { !$0.contains("link down") && ($0.contains("witness") || $0.contains("UA")) }.suffix(60).joined(separator: "\n"))
            }
            throw error
        }
        XCTAssertTrue(cluster.errorOutput("GE").contains("offering it to that witness as evidence"), "GE itself shows what it signed before it learned")
        try await eventually("GE holds every notification its peers hold receipts for", timeout: 90) {
            Set(try await cluster.client("GE").inbox().map(\.id)) == Set(receipted.map(\.id))
        }
        try await eventually("what GE sent alone reached AZ and UA", timeout: 90) {
            try await cluster.client("GE").outbox().filter { sent.contains($0.id) }.allSatisfy { $0.recipients.allSatisfy { $0.state == .delivered } }
        }
        try await eventually("AZ and UA cosign GE's second epoch", timeout: 60) {
            self.witnesses.allSatisfy { cluster.heldSize(of: "GE.epoch-2", by: $0) != nil }
        }

        // Exactly once, everywhere.
        let geInbox = try await cluster.client("GE").inbox()
        XCTAssertEqual(geInbox.count, receipted.count)
        for witness in witnesses {
            let fromGE = try await cluster.client(witness).inbox().filter { $0.sender.rawValue == "GE" }
            XCTAssertEqual(fromGE.count, sent.count, "\(witness) holds each of GE's notifications once")
            XCTAssertEqual(Set(fromGE.map(\.id)), Set(sent))
            let status = try LocalCluster.iias(["status", "--socket", cluster.socketPath(witness), "--check-history"])
            XCTAssertEqual(status.status, 4, status.stdout + status.stderr)
            XCTAssertTrue(status.stdout.contains("SPLIT VIEW"), status.stdout)
        }
        // UA's operators set the split views aside once dealt with: monitoring turns green, the evidence stays.
        let uaAlarms = try APIJSON.decoder().decode([HistoryAlarm].self, from: Data(try LocalCluster.iias(["alarms", "--socket", cluster.socketPath("UA"), "--json"]).stdout.utf8))
        XCTAssertFalse(uaAlarms.isEmpty)
        for alarm in uaAlarms {
            XCTAssertEqual(alarm.kind, .splitView)
            let acknowledged = try LocalCluster.iias(["alarms", "ack", try XCTUnwrap(alarm.key), "--note", "GE restored from a snapshot", "--socket", cluster.socketPath("UA")])
            XCTAssertEqual(acknowledged.status, 0, acknowledged.stderr)
        }
        XCTAssertEqual(try LocalCluster.iias(["status", "--socket", cluster.socketPath("UA"), "--check-history"]).status, 0)
        let geStatus = try LocalCluster.iias(["status", "--socket", cluster.socketPath("GE"), "--check-history"])
        XCTAssertEqual(geStatus.status, 4, geStatus.stdout)
        XCTAssertTrue(geStatus.stdout.contains("LOG-RESTORED"), geStatus.stdout)

        cluster.stopAll()
        for witness in witnesses {
            // Never cosigned: the witness holds exactly what it held before, and GE keeps no
            // cosignature of its old origin beyond the copy.
            XCTAssertEqual(cluster.heldCheckpoint(of: "GE", by: witness), cosigned[witness], "\(witness)'s state of GE's first history")
            let kept = try WitnessFolder(dataDirectory: cluster.dataDirectory("GE")).cosigned(by: witness)?.checkpoint()
            XCTAssertFalse(kept.map { $0.origin == oldOrigin && $0.treeSize > copySize } ?? false, "\(witness) cosigned \(String(describing: kept))")
            for file in WitnessFolder(dataDirectory: cluster.dataDirectory(witness)).evidenceFiles() {
                let evidence = try SplitViewEvidence(file: Array(try Data(contentsOf: URL(fileURLWithPath: file))))
                XCTAssertEqual(try evidence.stored.checkpoint(), cosigned[witness], "the evidence holds what \(witness) cosigned")
                let received = try evidence.received.checkpoint()
                XCTAssertEqual(received.origin, oldOrigin)
                XCTAssertGreaterThanOrEqual(received.treeSize, cosigned[witness]!.treeSize)
                let audited = try LocalCluster.iias(["audit", "split-view", file, "--ca", pki.caFile, "--certs", pki.centersDirectory])
                XCTAssertEqual(audited.status, 0, audited.stdout + audited.stderr)
                XCTAssertTrue(audited.stdout.contains("split view of \(oldOrigin)"), audited.stdout)
            }
        }
        for center in ["AZ", "GE", "UA"] { try cluster.verifyLog(center) }
    }
}
