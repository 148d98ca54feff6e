import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Peers witness each other's logs over their mutual-TLS links, with real processes:
/// after traffic, each node's newest checkpoint carries a cosignature of every peer,
/// `iias log checkpoint` prints them and each verifies with that peer's witness
/// certificate; a center without a witness key keeps exchanging and cosigns nothing.
final class WitnessingTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 60)
    }

    /// The centers whose cosignatures the node keeps for its newest checkpoint, read from its files.
    private func cosigners(of center: String, in cluster: LocalCluster) -> Set<String> {
        let logDirectory = cluster.logDirectory(center)
        guard let text = try? String(contentsOfFile: logDirectory + "/" + LogStore.checkpointFileName, encoding: .utf8),
              let note = try? SignedNote(parsing: text) else { return [] }
        let names = Cosignature.all(in: WitnessFolder(logDirectory: logDirectory).collected(for: note)).map(\.name)
        return Set(names.compactMap { name in
            name.hasPrefix("iias:center:") && name.hasSuffix("/witness") ? String(name.dropFirst(12).dropLast(8)) : nil
        })
    }

    private func witnessKey(_ pki: PKILayout, _ center: String) throws -> SigningPublicKey {
        try Certificate(pemFile: pki.centerDirectory(center) + "/witness.crt").signingPublicKey()
    }

    /// Sends one notification around the ring of `centers` and waits for every receipt.
    private func sendAround(_ centers: [String], in cluster: LocalCluster) async throws {
        for (position, sender) in centers.enumerated() {
            let recipient = centers[(position + 1) % centers.count]
            let sent = try await cluster.client(sender).submit(NodeCluster.draft(to: [recipient], subject: "Witnessed \(position)"))
            try await eventually("\(recipient) received \(sender)'s notification") {
                try await cluster.client(sender).outbox().first { $0.id == sent.id }?.recipients.allSatisfy { $0.state == .delivered } == true
            }
        }
    }

    func testEveryNodesNewestCheckpointCarriesTheCosignaturesOfItsThreePeers() async throws {
        let centers = ["AZ", "GE", "UA", "MD"]
        let cluster = try NodeCluster(centers, extra: ["treeHeadIntervalSeconds": 1])
        try cluster.startAll()
        defer { cluster.stopAll() }
        try await sendAround(centers, in: cluster)
        for center in centers {
            let peers = Set(centers.filter { $0 != center })
            try await eventually("\(center)'s newest checkpoint is cosigned by \(peers.sorted())", timeout: 90) {
                cosigners(of: center, in: cluster) == peers
            }
        }
        let pki = TestPKI.shared.layout
        for center in centers {
            let printed = try iias(["log", "checkpoint", cluster.logDirectory(center)])
            XCTAssertEqual(printed.status, 0, printed.stderr)
            let note = try SignedNote(parsing: printed.stdout)
            let signing = try Certificate(pemFile: pki.centerDirectory(center) + "/signing.crt").signingPublicKey()
            let checkpoint = try Checkpoint.verify(note: printed.stdout, logOf: center, publicKey: signing)
            XCTAssertGreaterThan(checkpoint.treeSize, 0)
            for peer in centers where peer != center {
                let cosignature = try Cosignature.verify(note: note, name: Cosignature.name(center: peer), publicKey: try witnessKey(pki, peer),
                                                         options: .init(maximumFutureSeconds: 60))
                XCTAssertLessThan(abs(Double(cosignature.timestamp) - Date().timeIntervalSince1970), 600, "dated about now")
            }
            // Another center's witness key does not verify a peer's line.
            let other = centers.first { $0 != center }!, impostor = centers.last { $0 != center && $0 != other }!
            XCTAssertThrowsError(try Cosignature.verify(note: note, name: Cosignature.name(center: other), publicKey: try witnessKey(pki, impostor)))

            let json = try iias(["log", "checkpoint", cluster.logDirectory(center), "--json"])
            XCTAssertEqual(json.status, 0, json.stderr)
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            XCTAssertEqual(Set(object?["cosignedBy"] as? [String] ?? []), Set(centers.filter { $0 != center }.map { Cosignature.name(center: $0) }))
            XCTAssertEqual(object?["note"] as? String, printed.stdout)

            // As a witness, each node logged what it cosigned, for an auditor to list.
            let listed = try iias(["log", "entries", cluster.logDirectory(center), "--type", "cosign", "--json"])
            XCTAssertEqual(listed.status, 0, listed.stderr)
            let records = try listed.stdout.split(separator: "\n").map { try APIJSON.decoder().decode(LogEntrySummary.self, from: Data($0.utf8)) }
            XCTAssertEqual(Set(records.compactMap { $0.checkpoint?.split(separator: " ").first.map(String.init) }), Set(centers.filter { $0 != center }))
            XCTAssertTrue(records.allSatisfy { $0.problem == nil })
        }
        let verified = try iias(["log", "verify", cluster.logDirectory("AZ"), "--ca", pki.caFile, "--crl", pki.crlFile, "--certs", pki.centersDirectory])
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)

        // Stopping, each node signs a last tree head over everything, its cosign records included.
        cluster.stopAll()
        for center in centers {
            let listed = try iias(["log", "entries", cluster.logDirectory(center), "--json"])
            let head = try SignedNote(parsing: try String(contentsOfFile: cluster.logDirectory(center) + "/" + LogStore.checkpointFileName,
                                                          encoding: .utf8)).checkpoint()
            XCTAssertEqual(head.treeSize + 1, UInt64(listed.stdout.split(separator: "\n").count), "\(center)'s last tree head covers its log")
        }
    }

    func testACenterWithoutAWitnessKeyKeepsExchangingAndCosignsNothing() async throws {
        let pki = try TestPKI.shared.privateCopy("no-witness")
        for file in [CenterKeys.witnessKeyFile, CenterKeys.witnessCertificateFile] {
            try FileManager.default.removeItem(atPath: pki.centerDirectory("MD") + "/" + file)
        }
        let centers = ["AZ", "GE", "MD"]
        let cluster = try LocalCluster(centers, pki: pki, executable: RepositoryPaths.iiasExecutable, extra: ["treeHeadIntervalSeconds": 1])
        try cluster.startAll()
        defer { cluster.stopAll() }
        try await sendAround(centers, in: cluster)
        try await eventually("MD's checkpoint is cosigned by AZ and GE", timeout: 90) { cosigners(of: "MD", in: cluster) == ["AZ", "GE"] }
        try await eventually("AZ's checkpoint is cosigned by GE", timeout: 90) { cosigners(of: "AZ", in: cluster) == ["GE"] }
        try await eventually("GE's checkpoint is cosigned by AZ", timeout: 90) { cosigners(of: "GE", in: cluster) == ["AZ"] }
        let listed = try iias(["log", "entries", cluster.logDirectory("MD"), "--type", "cosign"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertEqual(listed.stdout, "", "MD cosigned nothing")
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.folder.appendingPathComponent("data-MD/witness/logs").path))
        XCTAssertTrue(cluster.isRunning("MD"))
        let answered = cluster.errorOutput("AZ").split(separator: "\n").filter { $0.contains("a witness did not cosign") && $0.contains("peer=MD") }
        XCTAssertTrue(answered.contains { $0.contains("status=\(501)") }, "MD answers that it is no witness: \(answered)")
    }
}
