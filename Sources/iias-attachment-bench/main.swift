import Foundation
import IIASAPI
import IIASModel
import IIASTestSupport

// One large attachment end to end on loopback, as an operator sends it: real `iias node
// run` processes AZ and GE, `iias send --attach` streaming a FILE of N MiB to AZ (encrypted
// as it arrives), the chunks carried to GE and made durable there, done when AZ has GE's
// ATTACHMENT_END (complete). Its rate is set against the slowest of the raw limits
// measured in the same run: the attachment cipher on one core, the disk's durable
// sequential write in the nodes' file system, and one TLS connection's bulk rate (the
// transport bench's, passed in). Also the peak resident memory of AZ, GE and the sending
// CLI against their idle figures, and flash notifications AZ → GE during the transfer
// against the idle link (submission to receipt, one at a time).
// Usage: iias-attachment-bench --pki DIR --iias PATH [--mib 1024] [--tls-mib-per-second X] [--flash 30] [--json FILE]

let usage = "iias-attachment-bench --pki DIR --iias PATH [--mib 1024] [--tls-mib-per-second X] [--flash 30] [--json FILE]"
let options = ToolOptions(valued: ["--pki", "--iias", "--mib", "--tls-mib-per-second", "--flash", "--json"], usage: usage)
let mebibytes = options.int("--mib", default: 1024)
let flashCount = options.int("--flash", default: 30)
let tlsLimit = options["--tls-mib-per-second"].flatMap(Double.init)
let cluster = try LocalCluster(["AZ", "GE"], pki: PKILayout(root: options.required("--pki", "DIR (AZ GE from Scripts/pki.sh)")),
                               executable: options.required("--iias", "PATH"))
func say(_ line: String) { ToolOutput.line(line) }

let aead = RawLimits.aead(mebibytes: mebibytes)
let disk = try RawLimits.durableWrite(mebibytes: mebibytes, in: cluster.folder.path)
let limits = [("the attachment cipher, one core", aead), ("the disk's durable sequential write", disk)]
    + (tlsLimit.map { [("one TLS connection, bulk", $0)] } ?? [])
let slowest = limits.min { $0.1 < $1.1 }!

try cluster.startAll(logLevel: "warning")
defer { cluster.stopAll() }
let az = LocalAPIClient(socketPath: cluster.socketPath("AZ"))
for _ in 0..<400 where (try? await az.status())?.peersConnected != 1 { try await Task.sleep(for: .milliseconds(25)) }
let probe = try await FlashProbe(az)
_ = try await probe.measure(count: 5, to: "GE")   // warm-up
let idleFlash = try await probe.measure(count: flashCount, to: "GE")

let file = cluster.folder.appendingPathComponent("attachment.bin").path
let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
guard fd >= 0, ftruncate(fd, off_t(mebibytes) << 20) == 0 else { fatalError("cannot make \(file)") }
close(fd)   // sparse: reads as zeros, costs no disk; the cipher's work is the same
let sampler = MemorySampler()
var idle: [String: Int] = [:]
for center in ["AZ", "GE"] {
    let pid = cluster.pid(center)!
    idle[center] = MemorySampler.status(of: pid)?.resident ?? 0
    sampler.watch(pid, as: center)
}
let started = Date()
let id = try await cluster.sendAttachment(file, from: "AZ", to: ["GE"], sampler: sampler)
let uploaded = Date().timeIntervalSince(started)

/// GE's state of our attachment as AZ records it: waiting, transferring n%, delivered or refused.
func recipientState() async throws -> String {
    let (status, body) = try await az.raw(.GET, "/v1/attachments?envelope=\(id.uuidString.lowercased())")
    let list = try? JSONSerialization.jsonObject(with: Data(body)) as? [[String: Any]]
    let recipients = list?.first?["recipients"] as? [[String: Any]]
    return status == 200 ? (recipients?.first?["state"] as? String ?? "none") : "HTTP \(status)"
}
while try await recipientState() == "waiting" { try await Task.sleep(for: .milliseconds(5)) }
let duringFlash = try await probe.measure(count: flashCount, to: "GE")
let flashEnded = try await recipientState()
var state = flashEnded
while state.hasPrefix("transferring") || state == "waiting" {
    try await Task.sleep(for: .milliseconds(5))
    state = try await recipientState()
}
let seconds = Date().timeIntervalSince(started)
let peaks = sampler.stop()
guard state == "delivered" else { fatalError("the attachment ended \(state)") }

let throughput = Double(mebibytes) / seconds
func p(_ percentile: Double, _ values: [Double]) -> Double { FlashProbe.percentile(percentile, of: values) }
say("attachment end to end, \(mebibytes) MiB AZ → GE (encrypted, sent, made durable and acknowledged)")
say(String(format: "  %.1f s (upload and encryption %.1f s): %.0f MiB/s, %.2fx the slowest limit", seconds, uploaded, throughput,
           throughput / slowest.1) + " (\(slowest.0))")
for (name, value) in limits { say("    limit: " + name.padding(toLength: 38, withPad: " ", startingAt: 0) + String(format: "%8.0f MiB/s", value)) }
for name in ["AZ", "GE", "sender CLI"] {
    let peak = peaks[name]
    say("  " + name.padding(toLength: 11, withPad: " ", startingAt: 0) + String(format: "RSS idle %4d MiB, peak sampled %4d MiB, VmHWM %4d MiB",
                                                                                 (idle[name] ?? 0) >> 20, (peak?.sampled ?? 0) >> 20, (peak?.highWater ?? 0) >> 20))
}
say(String(format: "  flash AZ → GE, %d one at a time: idle p50 %.1f ms p99 %.1f ms; during the transfer p50 %.1f ms p99 %.1f ms (%.2fx the idle p50)",
           flashCount, p(50, idleFlash), p(99, idleFlash), p(50, duringFlash), p(99, duringFlash), p(99, duringFlash) / p(50, idleFlash))
    + "; the transfer was \(flashEnded) when the last was answered")

if let path = options["--json"] {
    let object: [String: Any] = [
        "mebibytes": mebibytes, "seconds": seconds, "uploadSeconds": uploaded, "mebibytesPerSecond": throughput,
        "limitMiBPerSecond": ["aead": aead, "disk": disk, "tls": tlsLimit as Any? ?? NSNull()] as [String: Any], "slowestLimit": slowest.0, "fractionOfLimit": throughput / slowest.1,
        "rssMiB": Dictionary(uniqueKeysWithValues: peaks.map { ($0.key, ["idle": (idle[$0.key] ?? 0) >> 20, "peak": $0.value.sampled >> 20, "hwm": $0.value.highWater >> 20]) }),
        "flashMilliseconds": ["idleP50": p(50, idleFlash), "idleP99": p(99, idleFlash), "duringP50": p(50, duringFlash), "duringP99": p(99, duringFlash),
                              "count": flashCount, "transferStateAfter": flashEnded] as [String: Any],
    ]
    try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
}
