import Foundation
import IIASAPI
import IIASLog
import IIASTestSupport
import XCTest

/// Restores from an older copy of a data directory, with real processes: a log behind what
/// its witnesses cosigned begins a new epoch instead of signing a second history, says so,
/// and gets back from its peers every notification they hold a receipt for, exactly once;
/// a witness whose stored state was rolled back is shown its own cosignature and adopts it
/// before it cosigns again.
final class RestoreTests: XCTestCase {
    private let pki = TestPKI.shared

    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result { try LocalCluster.iias(arguments) }

    func testARestoredNodeBeginsANewEpochAndGetsBackEveryReceiptedNotificationOnce() async throws {
        let cluster = try NodeCluster(["AZ", "GE", "UA"], extra: ["treeHeadIntervalSeconds": 1])
        try cluster.startAll()
        defer { cluster.stopAll() }
        try await cluster.sendAndAwaitReceipts(to: "GE", from: ["AZ", "UA"], count: 2, tag: "before")
        try await eventually("AZ and UA cosigned GE's log", timeout: 90) { cluster.heldSize(of: "GE", by: "AZ") != nil && cluster.heldSize(of: "GE", by: "UA") != nil }

        // The backup: GE stopped, its data directory copied, marked as a copy.
        XCTAssertEqual(cluster.stop("GE"), 0)
        let backup = try makeTemporaryDirectory("backup").appendingPathComponent("data-GE").path
        try LocalCluster.copyDirectory(cluster.dataDirectory("GE"), to: backup)
        FileManager.default.createFile(atPath: backup + "/restored", contents: nil)
        try cluster.start("GE")
        let backupSize = try XCTUnwrap(SignedNote(parsing: String(contentsOfFile: backup + "/log/checkpoint", encoding: .utf8)).checkpoint().treeSize)

        try await cluster.sendAndAwaitReceipts(to: "GE", from: ["AZ", "UA"], count: 3, tag: "after")
        try await eventually("the witnesses cosigned more of GE's log than the backup holds", timeout: 90) {
            (cluster.heldSize(of: "GE", by: "AZ") ?? 0) > backupSize + 3 && (cluster.heldSize(of: "GE", by: "UA") ?? 0) > backupSize + 3
        }
        let before = try await cluster.client("GE").inbox()
        XCTAssertEqual(before.count, 10)
        let cosignedBefore = (cluster.heldSize(of: "GE", by: "AZ")!, cluster.heldSize(of: "GE", by: "UA")!)

        // Restored from the copy and started.
        XCTAssertEqual(cluster.stop("GE"), 0)
        try LocalCluster.copyDirectory(backup, to: cluster.dataDirectory("GE"))
        try cluster.start("GE")
        try await eventually("GE says it was restored") { cluster.errorOutput("GE").contains("log-restored: our log holds") }
        try await eventually("GE holds every notification its peers hold receipts for", timeout: 90) {
            Set(try await cluster.client("GE").inbox().map(\.id)) == Set(before.map(\.id))
        }
        try await eventually("AZ and UA cosign GE's second epoch", timeout: 90) {
            cluster.heldSize(of: "GE.epoch-2", by: "AZ") != nil && cluster.heldSize(of: "GE.epoch-2", by: "UA") != nil
        }
        let after = try await cluster.client("GE").inbox()
        XCTAssertEqual(after.count, before.count, "each exactly once")
        let head = try SignedNote(parsing: String(contentsOfFile: cluster.logDirectory("GE") + "/checkpoint", encoding: .utf8)).checkpoint()
        XCTAssertEqual(head.origin, "iias:center:GE/log/epoch-2")

        // Nothing contradicts what the witnesses hold of the first epoch: no evidence, no regression.
        for witness in ["AZ", "UA"] {
            let evidence = (try? FileManager.default.contentsOfDirectory(atPath: cluster.dataDirectory(witness) + "/evidence")) ?? []
            XCTAssertEqual(evidence.filter { $0.hasSuffix(".json") }, [], "\(witness) found no split view")
            XCTAssertFalse(cluster.errorOutput(witness).contains("split view"), cluster.errorOutput(witness))
        }
        XCTAssertEqual(cluster.heldSize(of: "GE", by: "AZ"), cosignedBefore.0)
        XCTAssertEqual(cluster.heldSize(of: "GE", by: "UA"), cosignedBefore.1)

        // Said plainly: status, its check, the epoch's first entry; the logs verify.
        let status = try iias(["status", "--socket", cluster.socketPath("GE"), "--check-history"])
        XCTAssertEqual(status.status, 4, status.stdout + status.stderr)
        XCTAssertTrue(status.stdout.contains("LOG-RESTORED") && status.stdout.contains("epoch 2"), status.stdout)
        let epoch = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cluster.dataDirectory("GE") + "/witness/epoch.json"))) as? [String: Any]
        XCTAssertEqual(epoch?["epoch"] as? Int, 2)
        XCTAssertTrue((epoch?["previous"] as? String)?.hasPrefix("iias:center:GE/log\n") == true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.dataDirectory("GE") + "/restored"), "the marker goes once resolved")

        // Proofs of delivery go on under the epoch's origin: AZ keeps GE's, and an auditor
        // checks it with a policy naming GE's key under that origin too (pki.sh policy --epochs 2).
        let later = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "after the restore"))
        let folder = try makeTemporaryDirectory("epoch-proof").path
        let bundle = folder + "/GE.tlog-proof"
        try await eventually("GE's proof under epoch 2 reached AZ", timeout: 90) {
            try self.iias(["outbox", later.id.uuidString, "--proof", "GE", "--out", bundle, "--socket", cluster.socketPath("AZ")]).status == 0
        }
        XCTAssertTrue(try String(contentsOfFile: bundle, encoding: .utf8).contains("\niias:center:GE/log/epoch-2\n"))
        for epochs in ["1", "2"] {
            let policy = folder + "/policy-\(epochs).txt"
            let written = try ProcessRunner.run(RepositoryPaths.script("pki.sh"), ["-q", "policy", pki.root.path, "--quorum", "2", "--epochs", epochs, "--out", policy], timeout: 60)
            XCTAssertEqual(written.status, 0, written.stderr)
            let checked = try iias(["audit", "check-proof", bundle, "--policy", policy])
            XCTAssertEqual(checked.status, epochs == "2" ? 0 : 1, "policy of \(epochs) epoch(s): " + checked.stdout + checked.stderr)
        }
        XCTAssertEqual(try ProcessRunner.run(RepositoryPaths.script("pki.sh"), ["-q", "policy", pki.root.path, "--epochs", "0"], timeout: 60).status, 2)
        // A notification GE lost and got back in the refill: logged again at another index, which
        // its new receipt names; AZ keeps that and then GE's proof of it.
        let outbox = try await cluster.client("AZ").outbox()
        let refilled = try XCTUnwrap(outbox.first { $0.subject == "after AZ 0" })
        let refilledBundle = folder + "/refilled.tlog-proof"
        try await eventually("GE's proof of a refilled notification reached AZ", timeout: 90) {
            try self.iias(["outbox", refilled.id.uuidString, "--proof", "GE", "--out", refilledBundle, "--socket", cluster.socketPath("AZ")]).status == 0
        }
        XCTAssertEqual(try iias(["audit", "check-proof", refilledBundle, "--policy", folder + "/policy-2.txt"]).status, 0)
        XCTAssertFalse(cluster.errorOutput("AZ").contains("the receipt named the recipient's entry"), "no proof refused for a stale index")
        cluster.stopAll()
        for center in ["AZ", "GE", "UA"] { try cluster.verifyLog(center) }
        let listed = try iias(["log", "entries", cluster.logDirectory("GE"), "--type", "log-epoch", "--json"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let records = try listed.stdout.split(separator: "\n").map { try APIJSON.decoder().decode(LogEntrySummary.self, from: Data($0.utf8)) }
        XCTAssertEqual(records.count, 1, "the epoch's first entry: " + listed.stdout)
        XCTAssertTrue(records.first?.checkpoint?.hasPrefix("iias:center:GE/log/epoch-2 after iias:center:GE/log size ") == true, listed.stdout)
        XCTAssertNil(records.first?.problem)
        // A proof made now signs its tree heads under the epoch's origin, never the one the witnesses hold.
        let proof = try iias(["log", "consistency", cluster.logDirectory("GE"), "--from", "1", "--key-dir", pki.centerDirectory("GE")])
        XCTAssertEqual(proof.status, 0, proof.stderr)
        XCTAssertTrue(proof.stdout.contains("iias:center:GE/log/epoch-2\\n"), proof.stdout)
        let proofFile = try makeTemporaryDirectory("proof").appendingPathComponent("c.json")
        try Data(proof.stdout.utf8).write(to: proofFile)
        let checked = try iias(["audit", "check-proof", proofFile.path, "--cert", pki.centerDirectory("GE") + "/signing.crt"])
        XCTAssertEqual(checked.status, 0, checked.stdout + checked.stderr)
    }

    func testAWitnessWhoseStateWasRolledBackAdoptsItsOwnCosignatureBeforeCosigningAgain() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: ["treeHeadIntervalSeconds": 1])
        try cluster.startAll()
        defer { cluster.stopAll() }
        let stateFile = cluster.dataDirectory("GE") + "/witness/logs/AZ.json"
        let sent = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "first"))
        try await eventually("GE cosigned AZ's log", timeout: 90) { cluster.heldSize(of: "AZ", by: "GE") ?? 0 > 0 }
        let old = try Data(contentsOf: URL(fileURLWithPath: stateFile))
        let oldSize = cluster.heldSize(of: "AZ", by: "GE")!
        for number in 0..<3 { _ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "more \(number) after \(sent.id)")) }
        try await eventually("GE cosigned more of AZ's log", timeout: 90) { cluster.heldSize(of: "AZ", by: "GE") ?? 0 > oldSize + 3 }

        // GE's witness state of AZ's log goes back to the older copy while GE is stopped.
        XCTAssertEqual(cluster.stop("GE"), 0)
        let cosigned = cluster.heldSize(of: "AZ", by: "GE")!
        try old.write(to: URL(fileURLWithPath: stateFile))
        try cluster.start("GE")
        _ = try await cluster.client("AZ").submit(NodeCluster.draft(to: ["GE"], subject: "after the rollback"))
        try await eventually("GE recognised the rollback") { cluster.errorOutput("GE").contains("witness-rolled-back") }
        try await eventually("GE cosigns AZ's log beyond what it had cosigned", timeout: 90) { cluster.heldSize(of: "AZ", by: "GE") ?? 0 > cosigned }
        XCTAssertTrue(cluster.errorOutput("AZ").contains("showing it its cosignature"), cluster.errorOutput("AZ"))
        let line = cluster.errorOutput("GE").split(separator: "\n").first { $0.contains("witness-rolled-back") } ?? ""
        XCTAssertTrue(line.contains("held size \(oldSize) but"), String(line))
        XCTAssertFalse(cluster.errorOutput("GE").contains("refused to cosign"), "nothing offered was refused: " + cluster.errorOutput("GE"))
        let status = try iias(["status", "--socket", cluster.socketPath("GE"), "--check-history"])
        XCTAssertEqual(status.status, 4, status.stdout + status.stderr)
        XCTAssertTrue(status.stdout.contains("WITNESS-ROLLED-BACK"), status.stdout)
    }
}
