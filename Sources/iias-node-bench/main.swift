import Foundation
import IIASModel
import IIASNode
import IIASTestSupport

// Measures nodes end to end on loopback, as operators see them: real `iias node run`
// processes (mutual TLS, durable logs), notifications of ~1 KiB submitted through AZ's
// local API with a number in flight, each counted done when every recipient's signed
// receipt is logged at AZ. Prints notifications/s and submit-to-last-receipt latency
// p50/p99/p999, for one recipient and for three.
// Usage: iias-node-bench --pki DIR --iias PATH [--count N] [--inflight N] [--json FILE]

var pkiPath: String?, iiasPath: String?, jsonPath: String?
var count = 2000
var inflightCases = [1, 64]
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--pki": pkiPath = arguments.popFirst()
    case "--iias": iiasPath = arguments.popFirst()
    case "--json": jsonPath = arguments.popFirst()
    case "--count": count = Int(arguments.popFirst() ?? "") ?? count
    case "--inflight": inflightCases = (arguments.popFirst() ?? "").split(separator: ",").compactMap { Int($0) }
    default:
        FileHandle.standardError.write(Data("usage: iias-node-bench --pki DIR --iias PATH [--count N] [--inflight 1,64] [--json FILE]\n".utf8))
        exit(2)
    }
}
guard let pki = pkiPath, let iias = iiasPath else {
    FileHandle.standardError.write(Data("iias-node-bench: --pki DIR (AZ GE UA MD from Scripts/pki.sh) and --iias PATH are required\n".utf8))
    exit(2)
}

struct Result: Codable {
    var recipients: Int
    var inflight: Int
    var count: Int
    var seconds: Double
    var perSecond: Double
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    var p999Milliseconds: Double
}

/// Clock times of submission and of completion (every receipt logged) per notification.
actor Timings {
    var submitted: [UUID: UInt64] = [:]
    var pending: [UUID: Int] = [:]
    var latencies: [Double] = []
    var waiters: [CheckedContinuation<Void, Never>] = []
    var early: [UUID: Int] = [:]
    /// Notifications between "about to submit" and "every receipt logged".
    var active = 0
    let recipients: Int
    init(recipients: Int) { self.recipients = recipients }

    func submittedAt(_ id: UUID, _ start: UInt64) {
        submitted[id] = start
        pending[id] = recipients - (early.removeValue(forKey: id) ?? 0)
        finishIfDone(id)
    }

    func delivered(_ id: UUID) {
        guard pending[id] != nil else { early[id, default: 0] += 1; return }
        pending[id]! -= 1
        finishIfDone(id)
    }

    private func finishIfDone(_ id: UUID) {
        guard let left = pending[id], left <= 0, let start = submitted[id] else { return }
        pending[id] = nil
        active -= 1
        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        if let waiter = waiters.first { waiters.removeFirst(); waiter.resume() }
    }

    /// Takes a slot, waiting while `inflight` notifications are under way.
    func waitForSlot(inflight: Int) async {
        while active >= inflight { await withCheckedContinuation { waiters.append($0) } }
        active += 1
    }

    func waitAll() async { while active > 0 { await withCheckedContinuation { waiters.append($0) } } }
}

func measure(recipients: [String], inflight: Int, count: Int, client: LocalAPIClient) async throws -> Result {
    let timings = Timings(recipients: recipients.count)
    let events = try await client.events()
    let listener = Task {
        for try await event in events where event.type == "delivery" {
            if let id = event.id, event.recipient?.state == .delivered { await timings.delivered(id) }
        }
    }
    try await Task.sleep(for: .milliseconds(200))   // the subscription is registered
    let start = DispatchTime.now().uptimeNanoseconds
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<count {
            await timings.waitForSlot(inflight: inflight)
            group.addTask {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let sent = try await client.submit(LocalCluster.draft(to: recipients, subject: "Bench \(i)", priority: "urgent",
                                                                      category: "organized-crime", summaryBytes: 900))
                await timings.submittedAt(sent.id, t0)
            }
        }
        try await group.waitForAll()
    }
    await timings.waitAll()
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    listener.cancel()
    let sorted = await timings.latencies.sorted()
    func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))] }
    return Result(recipients: recipients.count, inflight: inflight, count: count, seconds: seconds, perSecond: Double(count) / seconds,
                  p50Milliseconds: percentile(0.5), p99Milliseconds: percentile(0.99), p999Milliseconds: percentile(0.999))
}

let cluster = try LocalCluster(["AZ", "GE", "UA", "MD"], pki: PKILayout(root: pki), executable: iias)
try cluster.startAll(logLevel: "warning")
let client = LocalAPIClient(socketPath: cluster.socketPath("AZ"))
var connected = false
for _ in 0..<400 where !connected {
    connected = ((try? await client.status())?.peersConnected ?? 0) == 3
    if !connected { try await Task.sleep(for: .milliseconds(25)) }
}
guard connected else { cluster.stopAll(); FileHandle.standardError.write(Data("nodes did not connect\n".utf8)); exit(1) }

var results: [Result] = []
print("  nodes on loopback, ~1 KiB notifications, done = every receipt logged at the sender (\(count) per case):")
for recipients in [["GE"], ["GE", "UA", "MD"]] {
    for inflight in inflightCases {
        let result = try await measure(recipients: recipients, inflight: inflight, count: count, client: client)
        results.append(result)
        print(String(format: "    %d recipient%@, %3d in flight: %8.0f notifications/s   p50 %7.2f ms  p99 %7.2f ms  p999 %7.2f ms",
                     recipients.count, recipients.count == 1 ? " " : "s", inflight, result.perSecond,
                     result.p50Milliseconds, result.p99Milliseconds, result.p999Milliseconds))
    }
}
cluster.stopAll()
if let jsonPath {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(results).write(to: URL(fileURLWithPath: jsonPath))
}
