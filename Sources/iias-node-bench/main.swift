import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport

// Measures nodes end to end on loopback, as operators see them: real `iias node run`
// processes (mutual TLS, durable logs), notifications of ~1 KiB submitted through AZ's
// local API with a number in flight (LoopDriver), each counted done when every recipient's signed
// receipt is logged at AZ. Prints notifications/s and submit-to-last-receipt latency
// p50/p99/p999 (HdrHistogram), for one recipient and for three. Then a catch-up: GE
// stopped, N notifications wait at AZ, GE starts, timed until every receipt is logged,
// set against the time the bulk rate (1 recipient, most in flight) predicts. Then, with
// --restarts R, a peer that comes back: R restarts of GE with one notification waiting.
// And what logging every consultation costs: bulk alone and while GE's inbox is listed.
// With --witnessing W: W notifications to three recipients with witnessing off, then on
// (CPU, time to a quorum of cosignatures, proofs checked per second; Witnessing.swift).
// Usage: iias-node-bench --pki DIR --iias PATH [--count N] [--bulk-count M] [--inflight 1,64] [--catchup N] [--restarts R] [--witnessing W] [--json FILE]
// (N notifications one at a time, M in each case with more in flight; M defaults to N).

let usage = "iias-node-bench --pki DIR --iias PATH [--count N] [--bulk-count M] [--inflight 1,64] [--catchup N] [--restarts R] [--witnessing W] [--json FILE]"
let options = ToolOptions(valued: ["--pki", "--iias", "--json", "--count", "--bulk-count", "--inflight", "--catchup", "--restarts", "--witnessing"], usage: usage)
let pki = options.required("--pki", "DIR (AZ GE UA MD from Scripts/pki.sh)")
let iias = options.required("--iias", "PATH")
let jsonPath = options["--json"]
let count = options.int("--count", default: 2000)
let bulkCount = options.int("--bulk-count", default: count)
let inflightCases = options["--inflight"].map { $0.split(separator: ",").compactMap { Int($0) } } ?? [1, 64]
let catchUpCount = options.int("--catchup", default: 0)
let restartCount = options.int("--restarts", default: 0)
let witnessingCount = options.int("--witnessing", default: 0)

/// A line on stdout, written at once: in order with the catch-up progress on stderr, also into a pipe.
func say(_ line: String) { ToolOutput.line(line) }

struct Result: Codable {
    var recipients: Int
    var inflight: Int
    var count: Int
    var seconds: Double
    var perSecond: Double
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    var p999Milliseconds: Double
    /// Deliveries per receipt entry logged at AZ: how many notifications one signed
    /// receipt (a batch) answered on average.
    var receiptsPerEntry: Double
    /// CPU time (user + system) per notification during the case, in microseconds: the
    /// sender AZ, its recipients together, and this client.
    var cpuMicroseconds: CPUShare? = nil
    /// Submitted in batches (`POST /v1/notifications/batch`): notifications per request.
    var batched: Double? = nil
}

struct CPUShare: Codable {
    var sender: Double
    var recipients: Double
    var client: Double
}

/// CPU time (user + system) a process has used so far, in seconds (/proc/PID/stat).
func cpuSeconds(_ pid: Int32?) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    // After the name: state is field 3, utime and stime are fields 14 and 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

struct EventLineCost: Codable {
    var codableWriteMicroseconds: Double
    var ownWriteMicroseconds: Double
    var codableReadMicroseconds: Double
    var ownReadMicroseconds: Double
}

/// One ~1 KiB notification through AZ's local API (logged at AZ when this returns); its id.
func submit(to recipients: [String], number: Int, client: LocalAPIClient) async throws -> UUID {
    try await client.submit(json: LocalCluster.draftJSON(to: recipients, subject: "Bench \(number)", priority: "urgent",
                                               category: "organized-crime", summaryBytes: 900)).id
}

/// Calls `delivered` with the envelope id of each delivery receipt AZ logs; returns once
/// the node has registered the subscription (no receipt is missed after that).
func followDeliveries(_ client: LocalAPIClient, _ delivered: @escaping @Sendable (UUID, UInt64?) async -> Void) async throws -> Task<Void, any Error> {
    let events = try await client.events()
    return Task {
        for try await event in events where event.type == "delivery" {
            if let id = event.id, let recipient = event.recipient, recipient.state == .delivered { await delivered(id, recipient.receiptLogIndex) }
        }
    }
}

let cluster = try LocalCluster(["AZ", "GE", "UA", "MD"], pki: PKILayout(root: pki), executable: iias)
try cluster.startAll(logLevel: "warning")
let client = LocalAPIClient(socketPath: cluster.socketPath("AZ"))
var connected = false
for _ in 0..<400 where !connected {
    connected = ((try? await client.status())?.peersConnected ?? 0) == 3
    if !connected { try await Task.sleep(for: .milliseconds(25)) }
}
guard connected else { cluster.stopAll(); ToolOutput.line("nodes did not connect", to: .standardError); exit(1) }

struct CatchUp: Codable {
    var count: Int
    var submitSeconds: Double
    /// From starting GE's process until every receipt is logged at AZ (start-up and reconnect included).
    var seconds: Double
    var startSeconds: Double
    var perSecond: Double
    var bulkPerSecond: Double
    var predictedSeconds: Double
    var ratio: Double
}

/// Deliveries of one backlog, counted as AZ's event stream reports them.
actor Backlog {
    var waiting: Set<UUID> = []
    var submitted = 0, delivered = 0
    var done: CheckedContinuation<Void, Never>?
    func add(_ id: UUID) { waiting.insert(id); submitted += 1 }
    func deliveredOne(_ id: UUID) {
        guard waiting.remove(id) != nil else { return }
        delivered += 1
        if waiting.isEmpty, let done { self.done = nil; done.resume() }
    }
    func waitAll() async { if !waiting.isEmpty { await withCheckedContinuation { done = $0 } } }
}

/// Prints `counted()` of `total` on stderr every 3 s until cancelled, and ends the
/// benchmark (nodes stopped) if the count stands still for 60 s: a stuck catch-up fails
/// instead of hanging bench.sh.
func progress(_ what: String, of total: Int, cluster: LocalCluster, _ counted: @escaping @Sendable () async -> Int) -> Task<Void, Error> {
    Task {
        let start = DispatchTime.now().uptimeNanoseconds
        var last = -1, lastChange = 0.0
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(3))
            let now = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, count = await counted()
            ToolOutput.line(String(format: "    catch-up: %d / %d %@ (%.0f s)", count, total, what, now), to: .standardError)
            if count != last { last = count; lastChange = now }
            if now - lastChange > 60 {
                ToolOutput.line("iias-node-bench: catch-up: nothing \(what) for 60 s", to: .standardError)
                cluster.stopAll()
                exit(1)
            }
        }
    }
}

/// GE stopped, `count` notifications submitted to it (64 submissions at a time), then GE
/// started: the time until AZ has logged every receipt, with progress on stderr every 3 s.
func catchUp(count: Int, bulkPerSecond: Double, cluster: LocalCluster, client: LocalAPIClient) async throws -> CatchUp {
    cluster.stop("GE")
    let backlog = Backlog()
    let submitStart = DispatchTime.now().uptimeNanoseconds
    let submitting = progress("submitted", of: count, cluster: cluster) { await backlog.submitted }
    try await withThrowingTaskGroup(of: UUID.self) { group in
        var next = 0
        while next < min(64, count) { let i = next; group.addTask { try await submit(to: ["GE"], number: i, client: client) }; next += 1 }
        while let id = try await group.next() {
            await backlog.add(id)
            if next < count { let i = next; group.addTask { try await submit(to: ["GE"], number: i, client: client) }; next += 1 }
        }
    }
    submitting.cancel()
    let submitSeconds = Double(DispatchTime.now().uptimeNanoseconds - submitStart) / 1e9
    let listener = try await followDeliveries(client) { id, _ in await backlog.deliveredOne(id) }
    let start = DispatchTime.now().uptimeNanoseconds
    func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
    try cluster.start("GE", logLevel: "warning")
    let startSeconds = elapsed()
    let delivering = progress("delivered", of: count, cluster: cluster) { await backlog.delivered }
    await backlog.waitAll()
    let seconds = elapsed()
    delivering.cancel()
    listener.cancel()
    let predicted = Double(count) / bulkPerSecond
    return CatchUp(count: count, submitSeconds: submitSeconds, seconds: seconds, startSeconds: startSeconds,
                   perSecond: Double(count) / seconds, bulkPerSecond: bulkPerSecond, predictedSeconds: predicted, ratio: seconds / predicted)
}

// Warm-up (not reported): connections, caches and the first log segments.
_ = try await LoopDriver.run(socketPath: cluster.socketPath("AZ"), recipients: ["GE"], count: 200, inflight: 8)

var results: [Result] = []
say("  nodes on loopback, ~1 KiB notifications, done = every receipt logged at the sender"
    + (bulkCount == count ? " (\(count) per case):" : " (\(count) one at a time, \(bulkCount) with more in flight):"))
for recipients in [["GE"], ["GE", "UA", "MD"]] {
    // Each case with more in flight runs twice: one request a notification, and batches.
    for (inflight, batch) in inflightCases.flatMap({ $0 == 1 ? [($0, false)] : [($0, false), ($0, true)] }) {
        func cpu() -> [Double] { [cpuSeconds(cluster.pid("AZ")), recipients.map { cpuSeconds(cluster.pid($0)) }.reduce(0, +), cpuSeconds(nil)] }
        let before = cpu()
        var result = try await LoopDriver.run(socketPath: cluster.socketPath("AZ"), recipients: recipients,
                                              count: inflight == 1 ? count : bulkCount, inflight: inflight, batch: batch)
        let used = zip(cpu(), before).map { ($0 - $1) * 1e6 / Double(result.count) }
        result.cpuMicroseconds = CPUShare(sender: used[0], recipients: used[1], client: used[2])
        results.append(result)
        say(String(format: "    %d recipient%@, %3d in flight%@: %8.0f notifications/s   p50 %7.2f ms  p99 %7.2f ms  p999 %7.2f ms  %5.1f receipts/signature",
                     recipients.count, recipients.count == 1 ? " " : "s", inflight, batch ? ", batched" : "", result.perSecond,
                     result.p50Milliseconds, result.p99Milliseconds, result.p999Milliseconds, result.receiptsPerEntry))
        say(String(format: "      CPU per notification: sender %.0f µs, recipient%@ %.0f µs, this client %.0f µs%@",
                   used[0], recipients.count == 1 ? "" : "s", used[1], used[2],
                   result.batched.map { String(format: "; %.1f notifications a request", $0) } ?? ""))
    }
}
// Every listing is a signed consultation: what that costs the exchange (before the
// catch-up, whose 64 connections the client keeps open).
let consulting = try await consultationCost(cluster: cluster, count: bulkCount, inflight: inflightCases.max() ?? 64, listingsPerSecond: 4)
say(String(format: "    bulk while operators list GE's inbox %.0f times a second (%d listings, each a signed consult entry): %.0f /s, alone %.0f /s (runs before and after): costs %.1f%% (target ≤ 5%%)",
           consulting.listingsPerSecond, consulting.listings, consulting.listedPerSecond, consulting.alonePerSecond, consulting.cost * 100))
var backlog: CatchUp?
if catchUpCount > 0, let bulk = results.filter({ $0.recipients == 1 && $0.batched == nil }).max(by: { $0.inflight < $1.inflight }) {
    let result = try await catchUp(count: catchUpCount, bulkPerSecond: bulk.perSecond, cluster: cluster, client: client)
    backlog = result
    say(String(format: "    catch-up, GE started with %d waiting (submitted in %.1f s): %.1f s (GE ready after %.1f s), %.0f /s;\n"
                 + "      the bulk rate predicts %.1f s: %.2fx (target ≤ 1.5x)",
                 result.count, result.submitSeconds, result.seconds, result.startSeconds, result.perSecond, result.predictedSeconds, result.ratio))
}
cluster.stopAll()
var comeback: Reconnect?
if restartCount > 0 {
    let result = try await reconnect(restarts: restartCount, pki: PKILayout(root: pki), iias: iias)
    comeback = result
    say(String(format: "    a peer back after an outage, %d restarts (the sender's backoff %.0f s): ready to receipt p50 %.1f ms, max %.1f ms",
               result.restarts, result.backoffSeconds, result.p50Milliseconds, result.maxMilliseconds))
}

var witnessing: WitnessingCost?
if witnessingCount > 0 {
    let result = try await witnessingCost(count: witnessingCount, inflight: inflightCases.max() ?? 64, pki: pki, iias: iias)
    witnessing = result
    say(String(format: "    witnessing, 3 recipients, %d in flight, a tree head a second: CPU of the four nodes %.0f µs a notification on, %.0f off (%.0f /s on, %.0f /s off);\n"
                 + "      a tree head to its quorum of cosignatures p50 %.1f ms, p99 %.1f ms (%d tree heads); proofs of delivery checked %.0f /s",
               result.inflight, result.on.cpuMicroseconds, result.off.cpuMicroseconds, result.on.perSecond, result.off.perSecond,
               result.quorumMilliseconds["p50"] ?? 0, result.quorumMilliseconds["p99"] ?? 0, result.quorumSamples, result.checkProofPerSecond))
}

/// Microseconds per call of `body`, over at least half a second.
func microseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    var calls = 0
    while DispatchTime.now().uptimeNanoseconds - start < 500_000_000 {
        for _ in 0..<100 { try body() }
        calls += 100
    }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3 / Double(calls)
}
// A sender writes a delivery line per state change and the client reads each: the event
// stream's own writer and reader against Codable, which handles every other line.
let line = EventLine(.delivery(id: UUID(), recipient: RecipientDelivery(
    center: CenterID("GE")!, state: .delivered, attempts: 1, recipientLogIndex: 41, receiptLogIndex: 1207, updated: Date())))
let lineEncoder = APIJSON.encoder(), lineDecoder = APIJSON.decoder()
let lineBytes = try lineEncoder.encode(line)
let eventLine = EventLineCost(
    codableWriteMicroseconds: try microseconds { _ = try lineEncoder.encode(line) },
    ownWriteMicroseconds: microseconds { _ = line.fastJSON() },
    codableReadMicroseconds: try microseconds { _ = try lineDecoder.decode(EventLine.self, from: lineBytes) },
    ownReadMicroseconds: microseconds { _ = EventLine(fastParsing: lineBytes) })
say(String(format: "    one delivery line of the event stream (%d B): written %.1f µs (Codable %.1f), read %.1f µs (Codable %.1f)",
           lineBytes.count, eventLine.ownWriteMicroseconds, eventLine.codableWriteMicroseconds,
           eventLine.ownReadMicroseconds, eventLine.codableReadMicroseconds))

if let jsonPath {
    struct Output: Codable {
        var cases: [Result]; var catchUp: CatchUp?; var reconnect: Reconnect?; var eventLine: EventLineCost; var consultations: ConsultationCost
        var witnessing: WitnessingCost?
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(Output(cases: results, catchUp: backlog, reconnect: comeback, eventLine: eventLine, consultations: consulting,
                                      witnessing: witnessing)).write(to: URL(fileURLWithPath: jsonPath))
}
