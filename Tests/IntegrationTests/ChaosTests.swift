import Foundation
import IIASTestSupport
import XCTest

/// The fault harness in small: node processes SIGKILLed during a load, a partition
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
        let rows = result.stdout.split(separator: "\n").filter { $0.hasPrefix("| kill") || $0.hasPrefix("| partition") || $0.hasPrefix("| clock") }
        XCTAssertEqual(rows.count, 3, "kill9, partition and clockskew ran:\n\(result.stdout)\n\(result.stderr)")
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
}
