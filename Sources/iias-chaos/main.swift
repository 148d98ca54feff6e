import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport

// The fault harness (Scripts/chaos.sh, and the chaos tests with small sizes): real node
// processes on 127.0.0.1 under faults, then an audit proving nothing accepted was lost
// and nothing was delivered twice.
//   kill9      four nodes exchange a load, and --attachments files of 2 to 4 MiB, while a random
//              node is SIGKILLed and restarted; every file must end whole at its recipient
//   partition  a fault proxy between AZ and GE passes, delays, drops and blackholes, then heals
//   diskfull   AZ's and GE's data on small tmpfs mounts of their own (needs root): AZ's API
//              refuses when its disk is full, GE asks AZ to retry when its disk is full; space
//              returns and everything accepted is delivered
//   clockskew  GE's clock 10 minutes ahead, UA's 1 minute ahead (libfaketime), the bound 5 minutes:
//              GE's envelopes to AZ (from AZ's future) are refused with the reason clock-skew;
//              AZ's to GE (10 minutes old to GE) and UA's are accepted: only the future is bounded
//   outage     MD down longer than the skew bound (2 s here) while AZ and GE send to it: what
//              was queued arrives once MD is back, though created long before, once each
//   soak       (only when asked) two nodes under a steady load for --minutes; every minute the
//              sender's RSS, open descriptors and that minute's p99 latency
// Usage: iias-chaos --pki DIR --iias PATH --proxy PATH [--scenario kill9|partition|diskfull|clockskew|outage|all]
//                   [--notifications N] [--kills K] [--attachments N] [--json FILE]

let options = ToolOptions(valued: ["--pki", "--iias", "--proxy", "--json", "--scenario", "--notifications", "--kills", "--attachments", "--minutes", "--rate"],
                          usage: "iias-chaos --pki DIR --iias PATH --proxy PATH [--scenario kill9|partition|diskfull|clockskew|outage|soak|all] [--notifications N] [--kills K] [--attachments N] [--minutes M --rate R] [--json FILE]")
let pki = PKILayout(root: options.required("--pki", "DIR (AZ GE UA MD from Scripts/pki.sh)"))
let iias = options.required("--iias", "PATH")
let proxy = options.required("--proxy", "PATH (iias-fault-proxy)")
let jsonPath = options["--json"]
let scenario = options.choice("--scenario", among: ["kill9", "partition", "diskfull", "clockskew", "outage", "soak", "all"], default: "all")
let notifications = options.int("--notifications", default: 10_000)
let kills = options.int("--kills", default: 20)
let attachmentCount = options.int("--attachments", default: 3)
let minutes = options.double("--minutes", default: 0)
let rate = options.int("--rate", default: 50)

let notificationCount = notifications, killCount = kills, soakMinutes = minutes, soakRate = rate

func partition() async throws -> Outcome {
    let started = Date()
    let cluster = try LocalCluster(["AZ", "GE"], pki: pki, executable: iias)
    let faultProxy = try RunningProcess(proxy, ["--listen", "127.0.0.1:0", "--target", "127.0.0.1:\(cluster.ports["GE"]!)"])
    let banner = try faultProxy.nextLine()
    guard let proxyPort = banner.split(separator: ":").last.flatMap({ Int($0) }) else { throw TestFailure("proxy: \(banner)") }
    try cluster.writeConfiguration("AZ", pki: pki, peers: ["GE"], users: ["\(LocalCluster.currentUser)=operator"],
                                   addresses: ["GE": "127.0.0.1:\(proxyPort)"])
    try cluster.startAll(logLevel: "warning")
    let ledger = Ledger()
    let phases = ["pass", "delay 200", "drop", "blackhole", "drop", "pass"]
    let perPhase = max(1, notificationCount / phases.count)
    say("partition: \(perPhase * phases.count) notifications AZ → GE through a fault proxy: \(phases.joined(separator: ", "))")
    for phase in phases {
        let answer = try faultProxy.command(phase)
        guard answer.hasPrefix("ok") else { throw TestFailure("proxy refused \(phase): \(answer)") }
        await load(cluster, from: "AZ", to: ["GE"], count: perPhase, ledger: ledger)
        try await Task.sleep(for: .milliseconds(phase == "blackhole" ? 2000 : 300))
    }
    return await audit(cluster, ledger, scenario: "partition AZ–GE: delay, drop, blackhole, heal", faults: phases.count - 1, started: started)
}

/// MD down for longer than the skew bound while AZ and GE load it (and each other): when
/// MD is back, every envelope queued for it — created seconds before, past the bound — is
/// delivered once.
func longOutage() async throws -> Outcome {
    let started = Date()
    let limits: [String: Any] = ["retryInitialSeconds": 0.1, "retryMaxSeconds": 1.0, "queueDepth": 1_000_000, "clockSkewSeconds": 2]
    let cluster = try LocalCluster(["AZ", "GE", "MD"], pki: pki, executable: iias, extra: ["limits": limits])
    try cluster.startAll(logLevel: "warning")
    let ledger = Ledger()
    let perSender = max(1, notificationCount / 10)
    say("outage: MD down past the 2 s skew bound while AZ and GE send \(perSender) each to MD and each other")
    cluster.stop("MD")
    let down = Date()
    async let fromAZ: Void = load(cluster, from: "AZ", to: ["MD", "GE"], count: perSender, ledger: ledger)
    async let fromGE: Void = load(cluster, from: "GE", to: ["MD", "AZ"], count: perSender, ledger: ledger)
    _ = await (fromAZ, fromGE)
    _ = await waitUntil(10) { Date().timeIntervalSince(down) > 4 }
    try cluster.start("MD", logLevel: "warning")
    return await audit(cluster, ledger, scenario: "outage: MD down past the skew bound during load", faults: 1, started: started)
}

/// RSS (KiB) and open descriptors of a process, from /proc. Descriptors are -1 when
/// /proc/PID/fd cannot be listed: a node makes itself non-dumpable (no core dumps), which
/// gives that folder to root, so only a soak run as root counts them.
func footprint(_ pid: Int32) -> (rssKiB: Int, descriptors: Int) {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?
        .split(separator: " ").compactMap { Int($0) }.first ?? 0
    let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    return (rss, descriptors)
}

/// Two nodes under a steady load; one line per minute; fails if memory or descriptors grow.
func soak() async throws -> Bool {
    let cluster = try LocalCluster(["AZ", "GE"], pki: pki, executable: iias)
    try cluster.startAll(logLevel: "warning")
    let client = LocalAPIClient(socketPath: cluster.socketPath("AZ"), timeout: .seconds(10))
    say("soak: \(soakRate) notifications/s from AZ to GE for \(soakMinutes) minutes")
    print("| minute | sent | AZ RSS MiB | AZ fds | GE RSS MiB | GE fds | p99 submit ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    var rows: [(az: (Int, Int), ge: (Int, Int))] = []
    let end = Date().addingTimeInterval(soakMinutes * 60)
    var minute = 0, sent = 0
    while Date() < end {
        minute += 1
        let minuteEnd = min(end, Date().addingTimeInterval(60))
        var latencies: [Double] = []
        while Date() < minuteEnd {
            let tick = Date()
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "soak \(sent)", summaryBytes: 600))
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            sent += 1
            let wait = 1.0 / Double(soakRate) - Date().timeIntervalSince(tick)
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
        }
        let az = footprint(cluster.pid("AZ") ?? 0), ge = footprint(cluster.pid("GE") ?? 0)
        rows.append(((az.rssKiB, az.descriptors), (ge.rssKiB, ge.descriptors)))
        let p99 = latencies.sorted()[max(0, Int(Double(latencies.count - 1) * 0.99))]
        print(String(format: "| %d | %d | %.1f | %d | %.1f | %d | %.2f |", minute, sent, Double(az.rssKiB) / 1024, az.descriptors,
                     Double(ge.rssKiB) / 1024, ge.descriptors, p99))
    }
    cluster.stopAll()
    guard let first = rows.first, let last = rows.last else { return true }
    // Flat: descriptors equal, RSS within 20% (+8 MiB slack) of the first minute.
    let flat = last.az.1 <= first.az.1 + 2 && last.ge.1 <= first.ge.1 + 2
        && Double(last.az.0) <= Double(first.az.0) * 1.2 + 8192 && Double(last.ge.0) <= Double(first.ge.0) * 1.2 + 8192
    if first.az.1 < 0 { say("soak: the nodes' descriptors cannot be counted (non-dumpable processes): run the soak as root to check them") }
    say("soak: RSS AZ \(first.az.0 / 1024) → \(last.az.0 / 1024) MiB, descriptors \(first.az.1) → \(last.az.1); \(flat ? "flat" : "GROWING")")
    return flat
}

if scenario == "soak" { exit(try await soak() ? 0 : 1) }

func diskFull() async throws -> Outcome? {
    let started = Date()
    let cluster = try LocalCluster(["AZ", "GE"], pki: pki, executable: iias)
    let sizes = ["AZ": "1m", "GE": "384k"]
    var mounted: [String] = []
    defer { for path in mounted { umount2(path, Int32(MNT_DETACH)) } }
    for (center, size) in sizes {
        let path = cluster.folder.appendingPathComponent("data-\(center)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(size),mode=0700") == 0 else {
            say("diskfull: skipped, cannot mount a tmpfs here (needs root): \(String(cString: strerror(errno)))")
            return nil
        }
        mounted.append(path)
    }
    try cluster.startAll(logLevel: "warning")
    let ledger = Ledger()
    let client = LocalAPIClient(socketPath: cluster.socketPath("AZ"), timeout: .seconds(10))
    say("diskfull: AZ's data on a 1 MiB tmpfs, GE's on 384 KiB; AZ sends until its API refuses")
    var refusedBecauseFull = 0
    for i in 0..<5000 {
        await ledger.attempt()
        do {
            let submission = try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "full-\(i)", summaryBytes: 600))
            await ledger.accept(submission, from: "AZ")
        } catch LocalAPIClient.Failure.refused(let status, let body) where status == 503 {
            refusedBecauseFull += 1
            say("  AZ refused (\(status)): \(body.error)")
            break
        } catch {
            say("  unexpected: \(error)")
            break
        }
    }
    let geBlocked = (try? await client.peers().first?.lastError) ?? nil
    say("  GE's link as AZ sees it: \(geBlocked ?? "no error")")
    // Space returns.
    for (center, _) in sizes {
        let path = cluster.folder.appendingPathComponent("data-\(center)").path
        guard mount("tmpfs", path, "tmpfs", UInt(MS_REMOUNT), "size=64m,mode=0700") == 0 else { throw TestFailure("remount \(path)") }
    }
    for i in 0..<20 {
        await ledger.attempt()
        await ledger.accept(try await client.submit(json: LocalCluster.draftJSON(to: ["GE"], subject: "after-\(i)")), from: "AZ")
    }
    var outcome = await audit(cluster, ledger, scenario: "full disk at sender and recipient, then space returns", faults: refusedBecauseFull + 1, started: started)
    if refusedBecauseFull == 0 { outcome.logsVerified = false; say("  the API never refused: the disk did not fill") }
    return outcome
}

/// Where Debian's libfaketime is (package faketime), if installed.
func libfaketime() -> String? {
    ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
     "/usr/lib/faketime/libfaketime.so.1"].first { FileManager.default.fileExists(atPath: $0) }
}

/// Clocks apart: GE 600 s ahead of AZ (beyond the 300 s bound), UA 60 s ahead (within).
/// Every envelope from GE to AZ (created in AZ's future) must come back refused with the
/// reason clock-skew; every one from AZ to GE (created 600 s in GE's past, as after an
/// outage) and from UA must be delivered. "Accepted" counts those, "faults" the refusals,
/// which must be all of GE's.
func clockSkew() async throws -> Outcome? {
    guard let faketime = libfaketime() else {
        say("clockskew: skipped, libfaketime is not installed (apt-get install faketime)")
        return nil
    }
    let started = Date()
    let cluster = try LocalCluster(["AZ", "GE", "UA"], pki: pki, executable: iias)
    // FAKETIME_SHARED names no shared segment on purpose: without it libfaketime's
    // constructor calls setenv, which moves `environ` before Swift's runtime has found the
    // process's arguments behind it, and the node would start with none.
    func skewed(_ seconds: Int) -> [String: String] {
        ["LD_PRELOAD": faketime, "FAKETIME": "+\(seconds)s", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
         "FAKETIME_SHARED": "/iias-none /iias-none"]
    }
    try cluster.start("AZ", logLevel: "warning")
    try cluster.start("GE", logLevel: "warning", environment: skewed(600))
    try cluster.start("UA", logLevel: "warning", environment: skewed(60))
    // The skew must be real: each node reports when it started, by its own clock.
    for (center, seconds) in [("GE", 600.0), ("UA", 60.0)] {
        let status = try await LocalAPIClient(socketPath: cluster.socketPath(center)).status()
        let ahead = status.started.timeIntervalSince(started)
        guard abs(ahead - seconds) < 30 else { throw TestFailure("\(center)'s clock is \(Int(ahead)) s ahead, not \(Int(seconds)): libfaketime did not take") }
    }
    let perPair = max(1, notificationCount / 30)
    say("clockskew: \(perPair) each GE → AZ (600 s ahead, bound 300 s), AZ → GE (600 s behind) and UA → AZ (60 s ahead)")
    let ledger = Ledger()
    var skewedIDs: [(sender: String, id: UUID)] = []
    for (sender, recipient) in [("GE", "AZ"), ("AZ", "GE"), ("UA", "AZ")] {
        let client = LocalAPIClient(socketPath: cluster.socketPath(sender), timeout: .seconds(10))
        for i in 0..<perPair {
            await ledger.attempt()
            let submission = try await client.submit(json: LocalCluster.draftJSON(to: [recipient], subject: "\(sender)-skew-\(i)", summaryBytes: 300))
            if sender == "GE" { skewedIDs.append((sender, submission.id)) } else { await ledger.accept(submission, from: sender) }
        }
    }
    // Every skewed one is answered with a signed refusal naming clock-skew.
    var refused = 0
    _ = await waitUntil(120) {
        refused = 0
        for (sender, id) in skewedIDs {
            guard let item = try? await LocalAPIClient(socketPath: cluster.socketPath(sender)).delivery(of: id) else { return false }
            if item.recipients.allSatisfy({ $0.state == .refused && $0.reason == "clock-skew" }) { refused += 1 }
        }
        return refused == skewedIDs.count
    }
    say("  refused with clock-skew: \(refused) of \(skewedIDs.count)")
    let inboxes = (try? await LocalAPIClient(socketPath: cluster.socketPath("AZ")).inbox()) ?? []
    let slipped = inboxes.filter { $0.sender.rawValue == "GE" }.count
    var outcome = await audit(cluster, ledger, scenario: "clock skew: GE 600 s ahead (refused, clock-skew), AZ 600 s behind and UA 60 s (accepted)",
                              faults: refused, started: started)
    if refused != skewedIDs.count || slipped > 0 {
        say("  \(skewedIDs.count - refused) skewed envelopes were not refused, \(slipped) reached an inbox")
        outcome.logsVerified = false
    }
    return outcome
}

var outcomes: [Outcome] = []
var unrun: [String] = []
/// Runs one scenario if it was asked for. One that cannot run (a node that did not start, a
/// proxy that refused) is named on standard error with its reason, and the others still run:
/// a harness that crashes would leave CI a backtrace instead of the cause.
@MainActor func run(_ name: String, _ body: () async throws -> Outcome?) async {
    guard scenario == name || scenario == "all" else { return }
    do {
        if let outcome = try await body() { outcomes.append(outcome) }
    } catch {
        say("\(name): could not run: \(error)")
        unrun.append(name)
    }
}
await run("kill9", kill9)
await run("partition", partition)
await run("diskfull", diskFull)
await run("clockskew", clockSkew)
await run("outage", longOutage)
print("| scenario | faults | sent | accepted | delivered | lost | duplicated | out of order | logs verify | seconds |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for o in outcomes {
    print("| \(o.scenario) | \(o.faults) | \(o.sent) | \(o.accepted) | \(o.delivered) | \(o.lost) | \(o.duplicated) | \(o.outOfOrder) | \(o.logsVerified ? "yes" : "NO") | \(String(format: "%.1f", o.seconds)) |")
}
for o in outcomes { if let files = o.attachments { print("attachments (\(o.scenario)): \(files.text)") } }
if let jsonPath {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(outcomes).write(to: URL(fileURLWithPath: jsonPath))
}
if !unrun.isEmpty { say("not run: \(unrun.joined(separator: ", ")) (the reasons are above)") }
exit(unrun.isEmpty && outcomes.allSatisfy { $0.lost == 0 && $0.duplicated == 0 && $0.outOfOrder == 0 && $0.logsVerified && $0.delivered == $0.accepted && $0.attachments?.isWhole != false } ? 0 : 1)
