import Foundation
import IIASAPI
import IIASCrypto
import IIASModel
import IIASTestSupport
import IIASTransport
import NIOCore
import XCTest

/// A sender sealing two contents under one envelope id to two recipients: AZ (a hand-made
/// peer holding AZ's keys) tells GE of a white Toyota and UA of a black BMW under one id.
/// The real nodes GE and UA compare what they logged, find it, keep both signed envelopes
/// as evidence that `iias audit equivocation` verifies offline, and alarm; a forged
/// evidence file and malformed history frames are refused.
final class EquivocationTests: XCTestCase {
    private let pki = TestPKI.shared

    /// AZ's notification to GE and UA under `id`, naming `vehicle`.
    private func seal(id: UUID, vehicle: String) throws -> Envelope {
        let document: [String: Any] = [
            "version": 1, "id": id.uuidString.lowercased(), "sender": "AZ", "recipients": ["GE", "UA"],
            "created": "2026-11-24T12:00:00Z", "kind": "notification", "category": "organized-crime", "priority": "urgent",
            "handling": ["tlp": "TLP:AMBER"], "subject": "Vehicle at the border", "summary": "Watch for a \(vehicle).", "entities": [],
        ]
        let notification = try FormalNotification.parse(try JSONSerialization.data(withJSONObject: document))
        var keys: [CenterID: EncryptionPublicKey] = [:]
        for recipient in ["GE", "UA"] {
            keys[CenterID(rawValue: recipient)!] = try Certificate(pemFile: pki.centerDirectory(recipient) + "/encryption.crt").encryptionPublicKey()
        }
        return try Envelope.seal(notification, signer: try CenterKeys(directory: pki.centerDirectory("AZ")).signingKey, recipientKeys: keys)
    }

    /// Sends `frames` to `center` as AZ and waits for the receipt of the last envelope among them.
    private func deliver(_ frames: [Frame], to center: String, port: Int) async throws {
        var (channel, answers) = try await TestPeer.connect(as: "AZ", port: port, expecting: center)
        defer { channel.close(promise: nil) }
        for frame in frames { try await channel.writeAndFlush(frame).get() }
        while let frame = await answers.next() {
            if case .receipt(let bytes) = frame, try Envelope(parsing: bytes).header.receipt?.outcome == .delivered { return }
        }
        throw TestFailure("\(center) closed the connection without a receipt")
    }

    private func audit(_ file: String) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["audit", "equivocation", file, "--ca", pki.caFile, "--certs", pki.centersDirectory], timeout: 60)
    }

    func testTwoContentsUnderOneIDAreFoundByTheCoRecipientsAndTheEvidenceVerifies() async throws {
        let metricsPort = try LocalCluster.freePort()
        let cluster = try NodeCluster(["GE", "UA"], peers: ["GE": ["AZ", "UA"], "UA": ["AZ", "GE"]])
        try cluster.writeConfiguration("GE", pki: pki.layout, peers: ["AZ", "UA"], users: ["\(LocalCluster.currentUser)=operator"],
                                       extra: ["metrics": ["listen": "127.0.0.1:\(metricsPort)"]])
        try cluster.start("GE")
        try cluster.start("UA")
        defer { cluster.stopAll() }
        let events = try await cluster.client("GE").events(EventFilter(kinds: [.history]))
        let id = UUID()
        let toyota = try seal(id: id, vehicle: "white Toyota"), bmw = try seal(id: id, vehicle: "black BMW")

        // Bad input first: a SEEN frame that does not parse and a copy nobody asked for change nothing.
        let unasked = Frame.history(.envelopeCopy, [1] + (try seal(id: id, vehicle: "red Lada")).bytes)
        try await deliver([.history(.seenEnvelopes, Array("AZ not-a-uuid zz\n".utf8)), unasked, .envelope(toyota.bytes)], to: "GE", port: cluster.ports["GE"]!)
        try await deliver([.envelope(bmw.bytes)], to: "UA", port: cluster.ports["UA"]!)

        let folder = cluster.folder.appendingPathComponent("data-GE/evidence/equivocation").path
        let file = folder + "/AZ-\(id.uuidString.lowercased()).json"
        try await eventually("GE keeps the evidence") { FileManager.default.fileExists(atPath: file) }
        try await eventually("UA keeps the evidence too") {
            FileManager.default.fileExists(atPath: cluster.folder.appendingPathComponent("data-UA/evidence/equivocation/AZ-\(id.uuidString.lowercased()).json").path)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).count, 1, "the unasked copy left no evidence")
        let evidence = try EquivocationEvidence(file: Array(try Data(contentsOf: URL(fileURLWithPath: file))))
        XCTAssertEqual(Set([evidence.first, evidence.second]), Set([toyota.bytes, bmw.bytes]))

        let verified = try audit(file)
        XCTAssertEqual(verified.status, 0, verified.stdout + verified.stderr)
        XCTAssertTrue(verified.stdout.contains("equivocation by AZ"), verified.stdout)
        let scratch = try makeTemporaryDirectory("equivocation")
        func write(_ evidence: EquivocationEvidence, _ name: String) throws -> String {
            let path = scratch.appendingPathComponent(name).path
            try Data(evidence.fileBytes).write(to: URL(fileURLWithPath: path))
            return path
        }
        var altered = bmw.bytes
        altered[altered.count - 80] ^= 1
        let forged = try audit(try write(EquivocationEvidence(first: toyota.bytes, second: altered), "forged.json"))
        XCTAssertEqual(forged.status, 1, "an altered envelope: \(forged.stdout)")
        XCTAssertTrue(forged.stderr.contains("no valid signature"), forged.stderr)
        let same = try audit(try write(EquivocationEvidence(first: toyota.bytes, second: toyota.bytes), "same.json"))
        XCTAssertEqual(same.status, 1, "one envelope twice proves nothing")
        let otherIDs = try audit(try write(EquivocationEvidence(first: toyota.bytes, second: try seal(id: UUID(), vehicle: "black BMW").bytes), "ids.json"))
        XCTAssertEqual(otherIDs.status, 1, "two ids are no equivocation")
        try Data("{}".utf8).write(to: scratch.appendingPathComponent("garbage.json"))
        XCTAssertEqual(try audit(scratch.appendingPathComponent("garbage.json").path).status, 1)

        // The alarm: an error line, the counter, a watch event, iias status and its check.
        XCTAssertTrue(cluster.errorOutput("GE").contains("equivocation: AZ signed two different envelopes"), cluster.errorOutput("GE"))
        XCTAssertEqual(metricValue(try httpGet(port: metricsPort, path: "/metrics"), #"iias_equivocation_total{center="AZ"}"#), 1)
        var lines = events.makeAsyncIterator()
        let event = try await lines.next()
        XCTAssertEqual(event?.history?.kind, .equivocation)
        XCTAssertEqual(event?.history?.evidence, file)
        let status = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["status", "--socket", cluster.socketPath("GE"), "--check-history"], timeout: 60)
        XCTAssertEqual(status.status, 4, status.stdout + status.stderr)
        XCTAssertTrue(status.stdout.contains("EQUIVOCATION") && status.stdout.contains(file), status.stdout)
        let json = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["status", "--socket", cluster.socketPath("GE"), "--check-history", "--json"], timeout: 60)
        XCTAssertEqual(json.status, 4, json.stdout + json.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((object?["historyAlarms"] as? [[String: Any]])?.first?["kind"] as? String, "equivocation")
        let quiet = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["status", "--socket", cluster.socketPath("GE")], timeout: 60)
        XCTAssertEqual(quiet.status, 0, "without --check-history the status is shown and exits 0")
        XCTAssertTrue(cluster.isRunning("GE") && cluster.isRunning("UA"))
    }
}
