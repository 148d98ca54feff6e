// Measures IIASLog (release build, Scripts/bench.sh): durable append rate with 1 and
// 64 concurrent appenders beside the raw write+fdatasync rate of the same disk (the
// faster of appending and writing over zeros);
// proof generation at 1,000 vs 1,000,000 leaves (memory and on-disk hashes); reopen
// of a 1,000,000-entry log from its hashes/index files vs the full scan.
//   iias-log-bench [--dir DIR] [--json FILE]
import Foundation
import IIASCrypto
import IIASLog

func option(_ name: String) -> String? {
    guard let i = CommandLine.arguments.firstIndex(of: name), i + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[i + 1]
}
let base = option("--dir") ?? FileManager.default.currentDirectoryPath + "/.build/bench"
let work = base + "/log-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: work) }
func now() -> Double { Date().timeIntervalSince1970 }
let kib = [UInt8](repeating: 0xAB, count: 1024)

// Raw: one writer, 1 KiB write + fdatasync in the same directory, two ways: appended at
// the end of the file (each sync also makes a new size and new blocks durable), and
// written over zeros written and synced beforehand (the sync makes data durable only;
// what the log does, see LogStore.preallocate). Each one's latency too: the faster is the
// fdatasync share of a node's one-in-flight latency floor (Scripts/bench/summary.py).
struct RawSync { var perSecond: Double; var p50: Double; var p99: Double }
func rawSync(overZeros: Bool) -> RawSync {
    let path = work + (overZeros ? "/raw-zeros" : "/raw")
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    defer { close(fd); unlink(path) }
    let room = 64 << 20
    if overZeros {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for k in 0..<(room >> 20) { _ = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(k << 20)) } }
        fsync(fd)
    }
    var latencies: [Double] = []
    var offset = 0
    let start = now()
    while now() - start < 2, offset + kib.count <= room {
        let t = now()
        _ = kib.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        fdatasync(fd)
        latencies.append(now() - t)
        offset += kib.count
    }
    let rate = Double(latencies.count) / (now() - start)
    latencies.sort()
    return RawSync(perSecond: rate, p50: latencies[latencies.count / 2] * 1e6,
                   p99: latencies[min(latencies.count - 1, latencies.count * 99 / 100)] * 1e6)
}
let extending = rawSync(overZeros: false)
let overZeros = rawSync(overZeros: true)
let fastest = overZeros.p50 < extending.p50 ? overZeros : extending
let rawRate = fastest.perSecond
let syncP50 = fastest.p50, syncP99 = fastest.p99

func appendRate(concurrency: Int, total: Int, preallocation: Int = LogStore.defaultPreallocation) async throws -> Double {
    let dir = work + "/c\(concurrency)-\(preallocation)"
    let log = try LogStore(directory: dir, preallocation: preallocation)
    defer { log.close() }
    let start = now()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<concurrency {
            group.addTask { for _ in 0..<(total / concurrency) { _ = try await log.append(type: .sent, payload: kib) }; _ = w }
        }
        try await group.waitForAll()
    }
    return Double(total / concurrency * concurrency) / (now() - start)
}
let one = try await appendRate(concurrency: 1, total: max(200, Int(rawRate * 2)))
let sixtyFour = try await appendRate(concurrency: 64, total: max(6400, Int(rawRate * 40)))
// The same without zeros written ahead (LogStore.preallocate): what they gain or cost.
let onePlain = try await appendRate(concurrency: 1, total: max(200, Int(rawRate * 2)), preallocation: 0)
let sixtyFourPlain = try await appendRate(concurrency: 64, total: max(6400, Int(rawRate * 40)), preallocation: 0)

func proofTime(_ n: Int) throws -> Double {
    var tree = InMemoryMerkleTree()
    for i in 0..<n { tree.append(leafHash: Merkle.hashLeaf(withUnsafeBytes(of: i) { Array($0) })) }
    let reps = 2000
    let start = now()
    for r in 0..<reps {
        let m = UInt64((r * 7919) % n)
        _ = try tree.inclusionProof(leafIndex: m, treeSize: UInt64(n))
    }
    return (now() - start) / Double(reps)
}
let p1k = try proofTime(1_000)
let p1m = try proofTime(1_000_000)

// Reopen: 1,000,000 entries of 16-byte payloads with a checkpoint near the end: the
// writable open trusts the hashes/index files; the read-only (auditor) open scans every record.
func fillLog(_ dir: String, _ n: Int) async throws {
    let log = try LogStore(directory: dir)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<256 { group.addTask { for _ in 0..<(n / 256 + (w < n % 256 ? 1 : 0)) { _ = try await log.append(type: .sent, payload: [UInt8](repeating: 1, count: 16)) } } }
        try await group.waitForAll()
    }
    let key = SigningPrivateKey.generate()
    try await log.appendTreeHead(signer: "BENCH", key: key)
    log.close()
}
let reopenEntries = 1_000_000
try await fillLog(work + "/reopen", reopenEntries)
try await fillLog(work + "/small", 1_000)
var t0 = now()
let reopened = try LogStore(directory: work + "/reopen")
let reopenSeconds = now() - t0
t0 = now()
let scanned = try LogStore(directory: work + "/reopen", readOnly: true)
let scanSeconds = now() - t0
precondition(scanned.count == reopened.count)
let small = try LogStore(directory: work + "/small")

func diskProofTime(_ log: LogStore) throws -> Double {
    let disk = log.diskHashes!
    let n = disk.treeSize
    let reps = 2000
    let start = now()
    for r in 0..<reps { _ = try disk.inclusionProof(leafIndex: UInt64(r * 7919) % n, treeSize: n) }
    return (now() - start) / Double(reps)
}
let d1k = try diskProofTime(small)
let d1m = try diskProofTime(reopened)
reopened.close()
small.close()

for (name, raw) in [("appended at the end", extending), ("over zeros", overZeros)] {
    print(String(format: "raw write+fdatasync, 1 KiB %@: %8.0f /s  p50 %.0f us  p99 %.0f us", name.padding(toLength: 19, withPad: " ", startingAt: 0),
                 raw.perSecond, raw.p50, raw.p99))
}
print(String(format: "log append, 1 appender (1 KiB):        %10.0f /s  (%.2fx raw; %.0f /s without zeros ahead)", one, one / rawRate, onePlain))
print(String(format: "log append, 64 appenders (1 KiB):      %10.0f /s  (%.2fx raw; target >= 20x; %.0f /s without zeros ahead)",
             sixtyFour, sixtyFour / rawRate, sixtyFourPlain))
print(String(format: "inclusion proof, 1,000 leaves:         %10.2f us", p1k * 1e6))
print(String(format: "inclusion proof, 1,000,000 leaves:     %10.2f us  (%.2fx; target <= 2x)", p1m * 1e6, p1m / p1k))
print(String(format: "disk inclusion proof, %d leaves:      %10.2f us  (pread from the hashes file)", small.count, d1k * 1e6))
print(String(format: "disk inclusion proof, %d leaves:  %10.2f us  (%.2fx)", reopened.count, d1m * 1e6, d1m / d1k))
print(String(format: "reopen, %d entries, hashes/index + checkpoint: %.3f s", reopened.count, reopenSeconds))
print(String(format: "open, %d entries, full scan (read-only):        %.3f s  (%.1fx the trusted reopen)", scanned.count, scanSeconds, scanSeconds / reopenSeconds))
if let path = option("--json") {
    let json: [String: Double] = ["rawSyncPerSecond": rawRate, "rawSyncP50Microseconds": syncP50,
                                  "rawSyncP99Microseconds": syncP99, "rawAppendingSyncP50Microseconds": extending.p50,
                                  "rawOverZerosSyncP50Microseconds": overZeros.p50, "append1PerSecond": one, "append64PerSecond": sixtyFour,
                                  "append1WithoutZerosPerSecond": onePlain, "append64WithoutZerosPerSecond": sixtyFourPlain,
                                  "ratio64ToRaw": sixtyFour / rawRate, "proof1kMicroseconds": p1k * 1e6,
                                  "proof1mMicroseconds": p1m * 1e6, "proofRatio": p1m / p1k,
                                  "reopenEntries": Double(reopenEntries), "reopenSeconds": reopenSeconds,
                                  "fullScanSeconds": scanSeconds, "diskProof1kMicroseconds": d1k * 1e6,
                                  "diskProof1mMicroseconds": d1m * 1e6]
    try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: path))
}
