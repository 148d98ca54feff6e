import Foundation
import IIASAPI
import IIASLog
import IIASTestSupport
import XCTest

/// What the restore tests share: data directories, the witnesses' held state, traffic that
/// waits for its receipts, copies of a stopped node's data and the auditor's log check.
extension LocalCluster {
    func dataDirectory(_ center: String) -> String { folder.appendingPathComponent("data-\(center)").path }

    /// The checkpoint of a log that `witness` holds as cosigned, under `name` ("GE", "GE.epoch-2").
    func heldCheckpoint(of name: String, by witness: String) -> Checkpoint? {
        (try? WitnessFolder(dataDirectory: dataDirectory(witness)).state(ofLog: name))??.checkpoint
    }

    /// The size of the log's checkpoint that `witness` holds as cosigned, under `name`.
    func heldSize(of name: String, by witness: String) -> UInt64? { heldCheckpoint(of: name, by: witness)?.treeSize }

    /// Sends `count` notifications from each of `senders` to `recipient` and waits for every receipt.
    func sendAndAwaitReceipts(to recipient: String, from senders: [String], count: Int, tag: String) async throws {
        for sender in senders {
            for number in 0..<count {
                let sent = try await client(sender).submit(NodeCluster.draft(to: [recipient], subject: "\(tag) \(sender) \(number)"))
                try await eventually("\(recipient) receipted \(sender)'s \(tag) \(number)") {
                    try await self.client(sender).outbox().first { $0.id == sent.id }?.recipients.allSatisfy { $0.state == .delivered } == true
                }
            }
        }
    }

    /// What `snapshotThenOutgrow` leaves: GE's copy (no marker), its log's size, the
    /// notifications GE held receipted when stopped, and what each witness cosigned of it.
    struct Outgrown {
        var copy: String
        var copySize: UInt64
        var receipted: [InboxItem]
        var cosigned: [String: Checkpoint]
    }

    /// Traffic to GE from `witnesses` until they cosigned its log; GE stopped and its data
    /// copied as a snapshot holds it (no `restored` marker); GE started again and taking more
    /// traffic until every witness cosigned beyond the copy; GE stopped. The copy is not put back.
    func snapshotThenOutgrow(witnesses: [String], timeout: TimeInterval = 60) async throws -> Outgrown {
        try await sendAndAwaitReceipts(to: "GE", from: witnesses, count: 2, tag: "before")
        try await eventually("the witnesses cosigned GE's log", timeout: timeout) { witnesses.allSatisfy { self.heldSize(of: "GE", by: $0) != nil } }
        XCTAssertEqual(stop("GE"), 0)
        let copy = try makeTemporaryDirectory("snapshot").appendingPathComponent("data-GE").path
        try Self.copyDirectory(dataDirectory("GE"), to: copy)
        XCTAssertFalse(FileManager.default.fileExists(atPath: copy + "/restored"))
        let copiedLog = try LogStore(directory: copy + "/log", readOnly: true)
        let copySize = copiedLog.count
        copiedLog.close()
        try start("GE")
        try await sendAndAwaitReceipts(to: "GE", from: witnesses, count: 3, tag: "after")
        try await eventually("the witnesses cosigned more of GE's log than the copy holds", timeout: timeout) {
            witnesses.allSatisfy { (self.heldSize(of: "GE", by: $0) ?? 0) > copySize + 3 }
        }
        let receipted = try await client("GE").inbox()
        XCTAssertEqual(receipted.count, 5 * witnesses.count)
        XCTAssertEqual(stop("GE"), 0)
        var cosigned: [String: Checkpoint] = [:]
        for witness in witnesses { cosigned[witness] = try XCTUnwrap(heldCheckpoint(of: "GE", by: witness)) }
        return Outgrown(copy: copy, copySize: copySize, receipted: receipted, cosigned: cosigned)
    }

    /// Copies a stopped node's data directory to `backup`, or a backup back into place.
    static func copyDirectory(_ from: String, to: String) throws {
        try? FileManager.default.removeItem(atPath: to)
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    /// Runs the built `iias` with `arguments`.
    static func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 60)
    }

    /// `iias log verify` on `center`'s log, as an auditor holding the CA, the CRL and the certificates.
    func verifyLog(_ center: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let pki = TestPKI.shared
        let verified = try Self.iias(["log", "verify", logDirectory(center), "--ca", pki.caFile, "--crl", pki.crlFile, "--certs", pki.centersDirectory])
        XCTAssertEqual(verified.status, 0, "\(center)'s log: " + verified.stdout + verified.stderr, file: file, line: line)
    }
}
