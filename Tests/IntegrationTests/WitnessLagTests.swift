import Foundation
import IIASAPI
import IIASTestSupport
import XCTest

/// The witnessed state as an operator sees it: `iias status` (text and JSON) and /metrics
/// name the newest checkpoint a quorum of peers cosigned; with a peer down the quorum
/// (2 of 2) cannot be met, the node keeps exchanging and the lag grows.
final class WitnessLagTests: XCTestCase {
    func testTheLagGrowsWhileAPeerIsDownAndTheNodeKeepsWorking() async throws {
        let metricsPort = try LocalCluster.freePort()
        let cluster = try NodeCluster(["AZ", "GE", "UA"], extra: ["treeHeadIntervalSeconds": 1])
        try cluster.writeConfiguration("AZ", pki: TestPKI.shared.layout, peers: ["GE", "UA"], users: ["\(LocalCluster.currentUser)=operator"],
                                       extra: ["treeHeadIntervalSeconds": 1, "metrics": ["listen": "127.0.0.1:\(metricsPort)"]])
        try cluster.startAll()
        defer { cluster.stopAll() }
        let az = cluster.client("AZ")
        _ = try await az.submit(NodeCluster.draft(to: ["GE", "UA"], subject: "Witnessed"))
        try await eventually("a checkpoint of AZ met the quorum of 2", timeout: 90) { try await az.status().witnessed?.treeSize != nil }
        let status = try await az.status()
        let first = try XCTUnwrap(status.witnessed)
        XCTAssertEqual(first.quorum, 2, "a majority of two peers")
        XCTAssertTrue(first.enabled)
        let text = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["status", "--socket", cluster.socketPath("AZ")], timeout: 60)
        XCTAssertTrue(text.stdout.contains("met the quorum of 2"), text.stdout)
        let metrics = try httpGet(port: metricsPort, path: "/metrics")
        XCTAssertNotNil(metricValue(metrics, "iias_witness_lag_entries"), metrics)
        XCTAssertEqual(metricValue(metrics, "iias_witness_quorum_tree_size"), Double(first.treeSize ?? 0))

        cluster.stop("GE")
        let sent = try await az.submit(NodeCluster.draft(to: ["UA"], subject: "While GE is down"))
        try await eventually("UA received it: the node keeps working") {
            try await az.outbox().first { $0.id == sent.id }?.recipients.allSatisfy { $0.state == .delivered } == true
        }
        try await eventually("the lag is reported in entries and seconds") {
            let witnessed = try await az.status().witnessed
            return witnessed?.treeSize == first.treeSize && (witnessed?.lagEntries ?? 0) > first.lagEntries && (witnessed?.lagSeconds ?? 0) >= 1
        }
        let json = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["status", "--json", "--socket", cluster.socketPath("AZ")], timeout: 60)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let witnessed = object?["witnessed"] as? [String: Any]
        XCTAssertEqual(witnessed?["treeSize"] as? Int, Int(first.treeSize ?? 0), json.stdout)
        XCTAssertGreaterThan(witnessed?["lagEntries"] as? Int ?? 0, 0)
    }
}
