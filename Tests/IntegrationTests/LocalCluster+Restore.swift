import Foundation
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
