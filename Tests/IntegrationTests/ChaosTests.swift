import Foundation
import IIASTestSupport
import XCTest

/// The fault harness in small: node processes SIGKILLed during a load with files attached, a partition
/// through the fault proxy, full disks (as root), and clocks apart (libfaketime, which
/// Scripts/setup.sh installs); the harness's own audit must find nothing lost, doubled or
/// reordered and every log verifying (it exits non-zero otherwise).
final class ChaosTests: XCTestCase {
    func testKill9AndPartitionLoseNothing() throws {
        let result = try ProcessRunner.run(RepositoryPaths.executable("iias-chaos"), [
            "--pki", TestPKI.shared.root.path, "--iias", RepositoryPaths.iiasExecutable,
            "--proxy", RepositoryPaths.executable("iias-fault-proxy"), "--notifications", "400", "--kills", "6",
        ], timeout: 300)
        XCTAssertEqual(result.status, 0, "\(result.stdout)\n\(result.stderr)")
        let rows = result.stdout.split(separator: "\n").filter { $0.hasPrefix("| kill") || $0.hasPrefix("| partition") || $0.hasPrefix("| clock") || $0.hasPrefix("| outage") }
        XCTAssertEqual(rows.count, 4, "kill9, partition, clockskew and outage ran:\n\(result.stdout)\n\(result.stderr)")
        let files = result.stdout.split(separator: "\n").first { $0.hasPrefix("attachments (kill") }.map(String.init) ?? ""
        XCTAssertTrue(files.hasSuffix(": 3 sent, 3 complete and identical, 0 lost, 0 corrupt"), "every file whole at its recipient after kill -9:\n\(result.stdout)")
        let skew = rows.first { $0.hasPrefix("| clock") }.map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        XCTAssertGreaterThan(Int(skew?[1] ?? "") ?? 0, 0, "envelopes between clocks 600 s apart were refused")
        for row in rows {
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            // scenario, faults, sent, accepted, delivered, lost, duplicated, out of order, logs verify, seconds
            XCTAssertGreaterThan(Int(cells[3]) ?? 0, 0, "something was accepted: \(row)")
            XCTAssertEqual(cells[3], cells[4], "every accepted notification delivered: \(row)")
            XCTAssertEqual(cells[5], "0", "lost: \(row)")
            XCTAssertEqual(cells[6], "0", "duplicated: \(row)")
            XCTAssertEqual(cells[7], "0", "out of order: \(row)")
            XCTAssertEqual(cells[8], "yes", "logs verify: \(row)")
        }
    }

    /// A harness stopped by hand (or by a test's timeout) must not leave its nodes running.
    func testAHarnessStoppedBySIGTERMLeavesNoNodeBehind() async throws {
        let harness = try RunningProcess(RepositoryPaths.executable("iias-chaos"), [
            "--pki", TestPKI.shared.root.path, "--iias", RepositoryPaths.iiasExecutable,
            "--proxy", RepositoryPaths.executable("iias-fault-proxy"), "--scenario", "kill9", "--notifications", "100000", "--kills", "1000",
        ])
        let marker = "iias-cluster-\(harness.process.processIdentifier)-"
        func nodes() -> [Int32] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap { Int32($0) }.filter { pid in
                guard let command = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
                let text = String(decoding: command.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
                return text.contains("node run") && text.contains(marker)
            }
        }
        try await eventually("the harness's four nodes run") { nodes().count == 4 }
        kill(harness.process.processIdentifier, SIGTERM)
        try await eventually("the harness ends", timeout: 30) { !harness.process.isRunning }
        XCTAssertEqual(harness.process.terminationReason, .exit)
        XCTAssertEqual(harness.process.terminationStatus, 128 + SIGTERM, "the status of a process SIGTERM ended, from its own handler")
        try await eventually("no node of the harness is left: \(nodes())", timeout: 10) { nodes().isEmpty }
    }

    func testAnUnknownScenarioOrCountExitsTwoNamingWhatItTakes() throws {
        let chaos = RepositoryPaths.executable("iias-chaos")
        let base = ["--pki", TestPKI.shared.root.path, "--iias", RepositoryPaths.iiasExecutable, "--proxy", RepositoryPaths.executable("iias-fault-proxy")]
        for (extra, expected) in [(["--scenario", "kill-9"], "--scenario takes one of kill9, partition, diskfull, clockskew, outage, soak, all, not kill-9"),
                                  (["--scenario", ""], "--scenario takes one of"), (["--kills", "many"], "--kills takes a whole number"),
                                  (["--scenario"], "usage: iias-chaos")] {
            let result = try ProcessRunner.run(chaos, base + extra, timeout: 30)
            XCTAssertEqual(result.status, 2, "\(extra): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(expected), "\(extra): \(result.stderr)")
            XCTAssertEqual(result.stdout, "", "nothing ran for \(extra)")
        }
    }
}
