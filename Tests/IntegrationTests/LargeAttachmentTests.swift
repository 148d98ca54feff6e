import Foundation
import IIASAPI
import IIASModel
import IIASTestSupport
import XCTest

/// Attachments at the size limit between real node processes: a 1 GiB file reaches two
/// centers byte for byte while no process's memory grows with it, and flash
/// notifications keep their pace while a large file flows on the same link.
final class LargeAttachmentTests: XCTestCase {
    private var work: URL!

    override func setUpWithError() throws { work = try makeTemporaryDirectory("large-attach") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: work) }

    private static var extra: [String: Any] { ["limits": ["retryInitialSeconds": 0.1, "retryMaxSeconds": 1.0, "queueDepth": 1_000_000]] }
    /// What a process may grow by over its idle resident memory while a file of any size flows.
    private static let allowedGrowth = 64 << 20

    /// A file of `size` bytes made with ftruncate: sparse, so it costs no disk and no time
    /// to write (it reads as zeros; the encryptor does not care).
    private func sparseFile(_ name: String, size: Int) throws -> String {
        let path = work.appendingPathComponent(name).path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        XCTAssertEqual(ftruncate(fd, off_t(size)), 0)
        return path
    }

    /// `center`'s record of the first attachment of `id` from AZ: state and chunks held.
    private func reception(of id: UUID, at center: String, _ cluster: NodeCluster) async throws -> (state: String, held: Int) {
        let root = try await cluster.client(center).read(id, from: CenterID(rawValue: "AZ")).notification.attachments.first?.encryption?.root
        let (status, body) = try await cluster.client(center).raw(.GET, "/v1/attachments/\(try XCTUnwrap(root))?sender=AZ")
        let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        guard status == 200, let state = object?["state"] as? String, let held = object?["held"] as? Int else {
            throw TestFailure("no reception at \(center): HTTP \(status)")
        }
        return (state, held)
    }

    /// SHA-256 of a file, read as a stream by the system's sha256sum (never the whole file in memory).
    private func sha256(_ path: String) throws -> String {
        let result = try ProcessRunner.run("/usr/bin/sha256sum", [path], timeout: 300)
        XCTAssertEqual(result.status, 0, result.stderr)
        return String(result.stdout.prefix(64))
    }

    private func connected(_ cluster: NodeCluster, peers: Int) async throws {
        try await eventually("AZ connected to its peers") { try await cluster.client("AZ").status().peersConnected == peers }
    }

    func testAGibibyteReachesTwoCentersWhileNoProcessGrowsWithIt() async throws {
        let cluster = try NodeCluster(["AZ", "GE", "UA"], extra: Self.extra)
        try cluster.startAll()
        defer { cluster.stopAll() }
        try await connected(cluster, peers: 2)
        let file = try sparseFile("evidence.bin", size: 1 << 30)
        var idle: [String: (resident: Int, highWater: Int)] = [:]
        let sampler = MemorySampler()
        for center in ["AZ", "GE", "UA"] {
            let pid = try XCTUnwrap(cluster.pid(center))
            idle[center] = try XCTUnwrap(MemorySampler.status(of: pid))
            sampler.watch(pid, as: center)
        }
        let started = Date()
        let id = try await cluster.sendAttachment(file, from: "AZ", to: ["GE", "UA"], sampler: sampler)
        let uploaded = Date().timeIntervalSince(started)
        for center in ["GE", "UA"] {
            try await eventually("\(center) holds the whole file", timeout: 600) { try await reception(of: id, at: center, cluster).state == "complete" }
        }
        let transferred = Date().timeIntervalSince(started)
        let expected = try sha256(file)
        for center in ["GE", "UA"] {
            let directory = work.appendingPathComponent("saved-\(center)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let read = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["read", id.uuidString.lowercased(), "--save", directory,
                                                                              "--socket", cluster.socketPath(center)], timeout: 600)
            XCTAssertEqual(read.status, 0, read.stdout + read.stderr)
            XCTAssertEqual(try sha256(directory + "/evidence.bin"), expected, "\(center): the saved file is the sent one")
            try FileManager.default.removeItem(atPath: directory)
        }
        let peaks = sampler.stop()
        for center in ["AZ", "GE", "UA"] {
            let peak = try XCTUnwrap(peaks[center]), before = try XCTUnwrap(idle[center])
            let bound = before.resident + Self.allowedGrowth
            XCTAssertLessThanOrEqual(peak.sampled, bound, "\(center): sampled RSS \(peak.sampled >> 20) MiB, idle \(before.resident >> 20) MiB")
            // The kernel's peak catches a spike between samples: it grew past its idle peak only within the bound.
            XCTAssertLessThanOrEqual(peak.highWater, max(before.highWater, bound), "\(center): VmHWM \(peak.highWater >> 20) MiB")
            print("large attachment: \(center) idle \(before.resident >> 20) MiB, peak sampled \(peak.sampled >> 20) MiB, VmHWM \(peak.highWater >> 20) MiB")
        }
        let cli = try XCTUnwrap(peaks["sender CLI"])
        XCTAssertLessThanOrEqual(cli.highWater, Self.allowedGrowth, "the sender CLI streams: VmHWM \(cli.highWater >> 20) MiB")
        print(String(format: "large attachment: 1 GiB to GE and UA: uploaded in %.1f s, held by both after %.1f s, saved and checked after %.1f s; sender CLI VmHWM %d MiB",
                     uploaded, transferred, Date().timeIntervalSince(started), cli.highWater >> 20))
    }

    /// Flash notifications while a large file flows AZ → GE: their p99, submission to
    /// receipt, stays within 3x their p99 on the idle link, and their median within 3x the
    /// idle median. 200 each side, so each p99 is the third slowest and one stall of a
    /// machine does not decide it. The file must still be flowing when the last one is
    /// answered. (Scripts/bench.sh measures the same in a release build.)
    func testFlashNotificationsKeepTheirPaceWhileAFileFlows() async throws {
        let cluster = try NodeCluster(["AZ", "GE"], extra: Self.extra)
        try cluster.startAll()
        defer { cluster.stopAll() }
        try await connected(cluster, peers: 1)
        let probe = try await FlashProbe(cluster.client("AZ"))
        _ = try await probe.measure(count: 5, to: "GE")   // warm-up: the first of a run pays for first uses
        // As many flashes idle as during, so that the two p99s are the same estimator: the
        // requirement compares the flash's p99 during a transfer with its p99 on an idle link.
        let idle = try await probe.measure(count: 200, to: "GE")
        let file = try sparseFile("bulk.bin", size: 512 << 20)
        let id = try await cluster.sendAttachment(file, from: "AZ", to: ["GE"])
        try await eventually("the file flowing", timeout: 120) { try await reception(of: id, at: "GE", cluster).held > 0 }
        let during = try await probe.measure(count: 200, to: "GE")
        let after = try await reception(of: id, at: "GE", cluster)
        XCTAssertEqual(after.state, "receiving", "the file ended before the measurement did (\(after.held) chunks): make it larger")
        let baseline = FlashProbe.percentile(50, of: idle), idleSlow = FlashProbe.percentile(99, of: idle)
        let slow = FlashProbe.percentile(99, of: during), typical = FlashProbe.percentile(50, of: during)
        print(String(format: "flash during a transfer: idle p50 %.1f ms p99 %.1f ms; during p50 %.1f ms p99 %.1f ms (p99 %.2fx the idle p99); GE held %d chunks",
                     baseline, idleSlow, typical, slow, slow / idleSlow, after.held))
        XCTAssertLessThanOrEqual(typical, 3 * baseline, "flash p50 during a transfer \(typical) ms, idle p50 \(baseline) ms")
        XCTAssertLessThanOrEqual(slow, 3 * idleSlow, "flash p99 during a transfer \(slow) ms, idle p99 \(idleSlow) ms")
    }
}
