import Foundation
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// The routine events of a node's years, with real processes and a PKI of the test's
/// own (a copy, so that re-signing its CRL or rotating its keys touches no other test):
/// history stays readable at every node and verifiable by an auditor throughout.
final class KeyLifecycleTests: XCTestCase {
    /// A private copy of the test PKI.
    private func privatePKI() throws -> PKILayout {
        let folder = try makeTemporaryDirectory("lifecycle-pki").appendingPathComponent("pki")
        try FileManager.default.copyItem(at: TestPKI.shared.root, to: folder)
        return PKILayout(root: folder.path)
    }

    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 300)
    }

    /// SIGHUP, and waits for the node to say it reloaded (its stderr, a condition with a deadline).
    private func reload(_ cluster: LocalCluster, _ center: String) async throws {
        let before = cluster.errorOutput(center).components(separatedBy: "reloaded the CA").count
        cluster.signal(center, SIGHUP)
        try await eventually("\(center) reloaded") { cluster.errorOutput(center).components(separatedBy: "reloaded the CA").count > before }
    }

    private func deliveredToAll(_ cluster: LocalCluster, from center: String, _ id: UUID) async throws {
        try await eventually("\(center)'s \(id) delivered everywhere") {
            try await cluster.client(center).delivery(of: id).recipients.allSatisfy { $0.state == .delivered }
        }
    }

    func testACRLRefreshKeepsEveryInboxReadableAndEveryLogVerifiable() async throws {
        let pki = try privatePKI()
        let centers = ["AZ", "GE", "UA", "MD"]
        let cluster = try LocalCluster(centers, pki: pki, executable: RepositoryPaths.iiasExecutable)
        try cluster.startAll()
        var sent: [(String, UUID)] = []
        for center in centers {
            let others = centers.filter { $0 != center }
            let id = try await cluster.client(center).submit(NodeCluster.draft(to: others, subject: "Before the refresh from \(center)")).id
            sent.append((center, id))
        }
        for (center, id) in sent { try await deliveredToAll(cluster, from: center, id) }
        // The CRL is re-signed strictly after every entry so far (its thisUpdate is in whole seconds).
        let lastEntry = Date()
        try await eventually("a second boundary after the last entry", timeout: 5) { Date().timeIntervalSince(lastEntry) > 1.2 }
        try TestPKI.pki("crl", pki.root)
        for center in centers { try await reload(cluster, center) }

        for center in centers {
            let client = cluster.client(center)
            let inbox = try await client.inbox()
            XCTAssertEqual(inbox.count, centers.count - 1, "\(center) still lists everything it received")
            for item in inbox {
                let read = try await client.read(item.id)
                XCTAssertTrue(read.notification.subject.hasPrefix("Before the refresh"), "\(center) reads \(item.id)")
            }
            let outbox = try await client.outbox()
            XCTAssertTrue(outbox.allSatisfy { !$0.subject.contains("not recorded") }, "\(center)'s outbox summaries still read")
        }
        let after = try await cluster.client("MD").submit(NodeCluster.draft(to: ["AZ", "GE", "UA"], subject: "After the refresh")).id
        try await deliveredToAll(cluster, from: "MD", after)
        cluster.stopAll()

        for center in centers {
            let verify = try iias(["log", "verify", cluster.logDirectory(center), "--ca", pki.caFile, "--crl", pki.crlFile,
                                   "--certs", pki.centersDirectory])
            XCTAssertEqual(verify.status, 0, "\(center)'s log verifies against the newest CRL: \(verify.stdout)\(verify.stderr)")
            XCTAssertTrue(verify.stdout.contains("judged at:"), verify.stdout)
        }
    }
}
