import Foundation
import IIASAPI
import IIASLog
import IIASModel
import IIASTestSupport

/// What witnessing costs and how soon it completes: the bulk case to three recipients
/// (`inflight` in flight) on four nodes signing a tree head every second, with witnessing
/// off then on (`"witness": {"enabled": …}`): CPU per notification of all four nodes
/// together and the rate; with it on, the time from a tree head of AZ being signed to its
/// quorum of cosignatures (AZ's status polled every 5 ms: the first poll that shows the
/// tree head, to the first that shows it witnessed), and how many proofs of delivery
/// `TlogProof`/`TlogPolicy` check per second on one core (what `iias audit check-proof` does,
/// in-process, without the envelope).
struct WitnessingCost: Codable {
    /// One bulk run: notifications/s and the four nodes' CPU (user + system) per notification, µs.
    struct Run: Codable { var perSecond: Double; var cpuMicroseconds: Double }
    var count: Int
    var inflight: Int
    var off: Run, on: Run
    /// Tree head signed to witnessed, milliseconds: "p50", "p99"; and how many were seen.
    var quorumMilliseconds: [String: Double], quorumSamples: Int
    var checkProofPerSecond: Double
}

/// The tree heads AZ signs and when each is first witnessed, as its status shows them.
private actor QuorumWatch {
    var signed: [UInt64: UInt64] = [:]
    var witnessed: [UInt64: UInt64] = [:]

    func see(_ status: NodeStatus, at now: UInt64) {
        if let size = status.treeHead?.treeSize, signed[size] == nil { signed[size] = now }
        if let size = status.witnessed?.treeSize, witnessed[size] == nil { witnessed[size] = now }
    }

    /// Milliseconds from signed to witnessed, for each tree head seen both ways.
    func latencies() -> [Double] {
        witnessed.compactMap { size, at in signed[size].map { Double(at - min(at, $0)) / 1e6 } }.sorted()
    }
}

func witnessingCost(count: Int, inflight: Int, pki: String, iias: String) async throws -> WitnessingCost {
    var perSecond: [Bool: Double] = [:], cpu: [Bool: Double] = [:]
    var quorum: [Double] = [], checkRate = 0.0
    for enabled in [false, true] {
        let cluster = try LocalCluster(["AZ", "GE", "UA", "MD"], pki: PKILayout(root: pki), executable: iias,
                                       extra: ["treeHeadIntervalSeconds": 1, "witness": ["enabled": enabled]])
        defer { cluster.stopAll() }
        try cluster.startAll(logLevel: "warning")
        _ = try await LoopDriver.run(socketPath: cluster.socketPath("AZ"), recipients: ["GE"], count: 200, inflight: 8)
        let nodesCPU = { ["AZ", "GE", "UA", "MD"].map { cpuSeconds(cluster.pid($0)) }.reduce(0, +) }
        let watch = QuorumWatch()
        let status = LocalAPIClient(socketPath: cluster.socketPath("AZ"))
        let polling = Task {
            while !Task.isCancelled {
                if let seen = try? await status.status() { await watch.see(seen, at: DispatchTime.now().uptimeNanoseconds) }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        let before = nodesCPU()
        let result = try await LoopDriver.run(socketPath: cluster.socketPath("AZ"), recipients: ["GE", "UA", "MD"], count: count, inflight: inflight)
        cpu[enabled] = (nodesCPU() - before) * 1e6 / Double(result.count)
        perSecond[enabled] = result.perSecond
        polling.cancel()
        guard enabled else { continue }
        quorum = await watch.latencies()
        checkRate = try await checkProofRate(cluster: cluster, pki: pki)
    }
    func percentile(_ p: Double) -> Double { quorum.isEmpty ? 0 : quorum[min(quorum.count - 1, Int(Double(quorum.count) * p))] }
    return WitnessingCost(count: count, inflight: inflight, off: .init(perSecond: perSecond[false] ?? 0, cpuMicroseconds: cpu[false] ?? 0),
                          on: .init(perSecond: perSecond[true] ?? 0, cpuMicroseconds: cpu[true] ?? 0),
                          quorumMilliseconds: ["p50": percentile(0.5), "p99": percentile(0.99)], quorumSamples: quorum.count,
                          checkProofPerSecond: checkRate)
}

/// Proofs of delivery checked per second: one of GE's bundles kept at AZ (as
/// `iias outbox ID --proof GE` gives it), against the policy `pki.sh policy` writes
/// (quorum 2), parsed and verified over and over.
private func checkProofRate(cluster: LocalCluster, pki: String) async throws -> Double {
    let client = LocalAPIClient(socketPath: cluster.socketPath("AZ"))
    let deadline = Date().addingTimeInterval(30)
    var text: String?
    while text == nil, Date() < deadline {
        if let id = try? await client.outbox(limit: 1).first?.id, let bytes = try? await client.receiptProof(of: id, from: CenterID(rawValue: "GE")!) {
            text = String(decoding: bytes, as: UTF8.self)
        } else {
            try await Task.sleep(for: .milliseconds(50))
        }
    }
    guard let text else { return 0 }
    let policyFile = cluster.folder.appendingPathComponent("policy.txt").path
    _ = try ProcessRunner.run(RepositoryPaths.script("pki.sh"), ["-q", "policy", pki, "--quorum", "2", "--out", policyFile], timeout: 60)
    let policy = try TlogPolicy(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: policyFile))))
    let perCall = try microseconds {
        let bundle = try TlogProof(parsing: text)
        _ = try bundle.verify(leafHash: try bundle.entryLeaf(payload: nil).leafHash, policy: policy)
    }
    return 1e6 / perCall
}
