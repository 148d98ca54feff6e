import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// What a node must never do: write plaintext or key material to its logs or errors, or
/// run with a private key others can read.
final class NodeSecurityTests: XCTestCase {
    func testNoPlaintextOrKeyMaterialInTheNodesOutput() async throws {
        let cluster = try NodeCluster(["AZ", "GE"])
        try cluster.start("AZ", logLevel: "trace")
        try cluster.start("GE", logLevel: "trace")
        let canarySubject = "CANARY-SUBJECT-7f3a9c"
        let canarySummary = "CANARY-SUMMARY-b81e44 the informant's name is Ivan Petrov"
        var draft = NodeCluster.draft(to: ["GE"], subject: canarySubject)
        draft["summary"] = canarySummary
        let sent = try await cluster.client("AZ").submit(draft)
        try await eventually("delivered") { try await cluster.client("AZ").delivery(of: sent.id).recipients[0].state == .delivered }
        _ = try await cluster.client("GE").read(sent.id)
        _ = try await cluster.client("GE").acknowledge(sent.id)
        // An invalid submission whose error echoes fields back to the client, not to the log.
        _ = try? await cluster.client("AZ").submit(["recipients": ["GE"], "subject": canarySubject])
        let output = cluster.errorOutput("AZ") + cluster.errorOutput("GE")
        XCTAssertTrue(output.contains("submitted") && output.contains("received"), "the logs are there: \(output.prefix(500))")
        for secret in [canarySubject, canarySummary, "Ivan Petrov", "PRIVATE KEY", "BEGIN"] {
            XCTAssertFalse(output.contains(secret), "\(secret) appears in the node's output")
        }
        for center in ["AZ", "GE"] {
            for name in ["signing.key", "encryption.key", "tls.key"] {
                let pem = try String(contentsOfFile: TestPKI.shared.centerDirectory(center) + "/" + name, encoding: .utf8)
                let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
                XCTAssertFalse(output.contains(String(body.prefix(24))), "key material of \(center)/\(name) in the output")
            }
        }
        // Nothing readable on disk either: the log holds the envelope, not the plaintext.
        cluster.stopAll()
        for center in ["AZ", "GE"] {
            let folder = cluster.logDirectory(center)
            for file in try FileManager.default.contentsOfDirectory(atPath: folder) {
                let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + file))
                XCTAssertNil(data.range(of: Data(canarySummary.utf8)), "plaintext in \(center)'s \(file)")
                XCTAssertNil(data.range(of: Data(canarySubject.utf8)), "subject in \(center)'s \(file)")
            }
        }
    }

    func testNodeRefusesAKeyReadableByOthers() throws {
        let keys = try makeTemporaryDirectory("keys")
        for name in ["signing", "encryption", "tls"] {
            for ext in ["key", "crt"] {
                try FileManager.default.copyItem(atPath: "\(TestPKI.shared.centerDirectory("AZ"))/\(name).\(ext)",
                                                 toPath: keys.appendingPathComponent("\(name).\(ext)").path)
            }
        }
        chmod(keys.appendingPathComponent("signing.key").path, 0o644)
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": []], extra: [:])
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: cluster.configURL("AZ"))) as! [String: Any]
        config["keys"] = keys.path
        try JSONSerialization.data(withJSONObject: config).write(to: cluster.configURL("AZ"))
        let result = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["node", "run", "--config", cluster.configURL("AZ").path], timeout: 30)
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertTrue(result.stderr.contains("signing.key") && result.stderr.contains("chmod 600"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cluster.socketPath("AZ")), "nothing was started")
    }
}
