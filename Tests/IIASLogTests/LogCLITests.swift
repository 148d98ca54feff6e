import Foundation
import IIASLog
import IIASTestSupport
import XCTest

/// `iias log verify` with the real binary: valid log, damaged log (exit 1 naming
/// segment and offset), torn tail reported (exit 1, file unchanged), bad input (exit 2).
final class LogCLITests: XCTestCase {
    func verify(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["log", "verify"] + arguments, timeout: 30)
    }

    func testVerify() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iias-logcli-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let log = try LogStore(directory: dir, segmentSize: 1024)
        for i in 0..<40 { _ = try await log.append(type: .sent, payload: Array("envelope \(i)".utf8)) }
        let root = try log.merkleTree().rootHash(treeSize: 40).hexString
        log.close()

        let ok = try verify([dir, "--json"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("\"rootHash\":\"\(root)\""), ok.stdout)
        XCTAssertTrue(ok.stdout.contains("\"treeSize\":40"), ok.stdout)

        let first = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()[0]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + first))
        bytes[60] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: dir + "/" + first))
        let bad = try verify([dir])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains(first) && bad.stderr.contains("offset"), bad.stderr)

        let missing = try verify([dir + "/nope"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("not a directory"), missing.stderr)
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("iias-empty-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: empty) }
        let notLog = try verify([empty])
        XCTAssertEqual(notLog.status, 2)
        XCTAssertTrue(notLog.stderr.contains("not a log"), notLog.stderr)
    }
}
