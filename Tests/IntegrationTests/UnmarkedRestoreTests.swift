import Foundation
import IIASAPI
import IIASLog
import IIASTestSupport
import XCTest

/// A node whose data directory is rolled back to a copy WITHOUT the `restored` marker (a VM
/// snapshot, say) and takes new traffic at once, with real processes: no checkpoint of its
/// old origin that contradicts its witnesses is cosigned, one at or beyond the size a
/// witness holds is kept by that witness as evidence, the node finds it is behind, begins
/// the next epoch and is refilled exactly once.
final class UnmarkedRestoreTests: XCTestCase {
    private let pki = TestPKI.shared
    private let oldOrigin = "iias:center:GE/log"
    private let witnesses = ["AZ", "UA"]

    /// What each witness held of GE's old origin before the rollback, against what it holds
    /// now and what GE keeps as cosigned: the descriptions of every contradiction.
    private func contradictions(of cosigned: [String: Checkpoint], copySize: UInt64, _ cluster: LocalCluster) -> [String] {
        witnesses.flatMap { witness -> [String] in
            var found: [String] = []
            let held = cluster.heldCheckpoint(of: "GE", by: witness)
            if held != cosigned[witness] {
                found.append("\(witness) holds \(held.map { "size \($0.treeSize)" } ?? "nothing") of GE's old origin, not the size \(cosigned[witness]!.treeSize) it cosigned")
            }
            let kept = (try? WitnessFolder(dataDirectory: cluster.dataDirectory("GE")).cosigned(by: witness)?.checkpoint()) ?? nil
            if let kept, kept.origin == oldOrigin, kept.treeSize > copySize {
                found.append("GE keeps a cosignature by \(witness) of its old origin at size \(kept.treeSize), beyond the copy's \(copySize)")
            }
            return found
        }
    }

    /// The entries of `center`'s stopped log.
    private func entries(of center: String, _ cluster: LocalCluster) throws -> [LogEntry] {
        let log = try LogStore(directory: cluster.logDirectory(center), readOnly: true)
        defer { log.close() }
        return try log.readEntries(0..<log.count)
    }

    func testAnUnmarkedRestoreTakingTrafficAtOnceGetsNothingConflictingCosignedAndIsRefilledOnce() async throws {
        let cluster = try NodeCluster(["AZ", "GE", "UA"], extra: ["treeHeadIntervalSeconds": 1])
        try cluster.startAll()
        defer { cluster.stopAll() }
        // A snapshot of GE's data (no marker), then more traffic the witnesses cosign.
        let outgrown = try await cluster.snapshotThenOutgrow(witnesses: witnesses, timeout: 30)
        let (copy, copySize, receipted, cosigned) = (outgrown.copy, outgrown.copySize, outgrown.receipted, outgrown.cosigned)

        // Rolled back without the marker; new notifications wait for GE and reach it as soon as it is up.
        try LocalCluster.copyDirectory(copy, to: cluster.dataDirectory("GE"))
        var fresh: [UUID] = []
        for sender in witnesses { fresh.append(try await cluster.client(sender).submit(NodeCluster.draft(to: ["GE"], subject: "queued \(sender)")).id) }
        try cluster.start("GE")
        for sender in witnesses { fresh.append(try await cluster.client(sender).submit(NodeCluster.draft(to: ["GE"], subject: "new \(sender)")).id) }

        // While GE finds out and is refilled, the witnesses' state of its old origin never moves.
        var seen: [String] = []
        func unchanged() -> Bool {
            seen += contradictions(of: cosigned, copySize: copySize, cluster)
            return seen.isEmpty
        }
        try await eventually("GE says it was restored", timeout: 30) { unchanged() && cluster.errorOutput("GE").contains("log-restored: our log holds") }
        let expected = Set(receipted.map(\.id) + fresh)
        try await eventually("GE holds every receipted notification and the new ones", timeout: 30) {
            let inbox = try await cluster.client("GE").inbox()
            return unchanged() && Set(inbox.map(\.id)) == expected
        }
        try await eventually("AZ and UA cosign GE's second epoch", timeout: 30) {
            unchanged() && self.witnesses.allSatisfy { cluster.heldSize(of: "GE.epoch-2", by: $0) != nil }
        }
        XCTAssertEqual(seen, [], "no checkpoint of the old origin contradicting the witnesses was cosigned")
        let after = try await cluster.client("GE").inbox()
        XCTAssertEqual(after.count, receipted.count + fresh.count, "each exactly once")
        XCTAssertEqual(Set(after.map(\.id)), expected)
        let status = try LocalCluster.iias(["status", "--socket", cluster.socketPath("GE"), "--check-history"])
        XCTAssertEqual(status.status, 4, status.stdout + status.stderr)
        XCTAssertTrue(status.stdout.contains("LOG-RESTORED") && status.stdout.contains("epoch 2"), status.stdout)

        // GE's old-origin tree heads beyond the copy (signed before it learned) are not cosigned;
        // one at or beyond the size a witness holds is shown to it (by GE itself once it learned,
        // if not before) and kept as split-view evidence the witness reports.
        let witnessOutput = Dictionary(uniqueKeysWithValues: witnesses.map { ($0, cluster.errorOutput($0)) })
        cluster.stopAll()
        XCTAssertEqual(contradictions(of: cosigned, copySize: copySize, cluster), [])
        let logged = try entries(of: "GE", cluster)
        let beyondCopy = try logged.filter { $0.type == .treeHead }
            .map { try SignedNote(parsing: String(decoding: $0.payload, as: UTF8.self)).checkpoint() }
            .filter { $0.origin == oldOrigin && $0.treeSize > copySize }
        // The epoch's first entry is there. Envelopes that arrived on a link before any witness's
        // report may be logged under the old origin first; what matters is asserted above and
        // below: none of it is cosigned, and each notification is in the inbox once.
        let epochStart = try XCTUnwrap(logged.firstIndex { $0.type == .operatorAction && LogEpochRecord(json: $0.payload) != nil })
        let early = logged[Int(copySize)..<epochStart].filter { $0.type == .received }.count
        for witness in witnesses {
            let comparable = beyondCopy.filter { $0.treeSize >= cosigned[witness]!.treeSize }
            let evidence = WitnessFolder(dataDirectory: cluster.dataDirectory(witness)).evidenceFiles()
            XCTAssertEqual(evidence.isEmpty, comparable.isEmpty, "\(witness) keeps evidence of a comparable tree head, and only then: \(evidence)")
            XCTAssertEqual(witnessOutput[witness]!.contains("split view"), !comparable.isEmpty, witnessOutput[witness]!)
            for file in evidence {
                let audited = try LocalCluster.iias(["audit", "split-view", file, "--ca", pki.caFile, "--certs", pki.centersDirectory])
                XCTAssertEqual(audited.status, 0, audited.stdout + audited.stderr)
            }
        }
        print("GE logged \(early) envelope(s) and signed \(beyondCopy.count) tree head(s) of its old origin beyond the copy's \(copySize) entries before it learned")
        for center in ["AZ", "GE", "UA"] { try cluster.verifyLog(center) }
    }
}
