import Foundation
import IIASTestSupport
import XCTest

/// The fault harness in small: node processes SIGKILLed during a load, and a partition
/// through the fault proxy; the harness's own audit must find nothing lost, doubled or
/// reordered and every log verifying (it exits non-zero otherwise).
final class ChaosTests: XCTestCase {
    func testKill9AndPartitionLoseNothing() throws {
        let result = try ProcessRunner.run(RepositoryPaths.executable("iias-chaos"), [
            "--pki", TestPKI.shared.root.path, "--iias", RepositoryPaths.iiasExecutable,
            "--proxy", RepositoryPaths.executable("iias-fault-proxy"), "--notifications", "400", "--kills", "6",
        ], timeout: 300)
        XCTAssertEqual(result.status, 0, "\(result.stdout)\n\(result.stderr)")
        let rows = result.stdout.split(separator: "\n").filter { $0.hasPrefix("| kill") || $0.hasPrefix("| partition") }
        XCTAssertEqual(rows.count, 2, result.stdout)
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
