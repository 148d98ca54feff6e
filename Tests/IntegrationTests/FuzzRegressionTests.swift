import Foundation
import IIASFuzz
import IIASTestSupport
import XCTest

/// Every committed fuzz input (seeds, and any input that once crashed) replayed through
/// its target in a normal build: each must pass the target's properties. And the targets
/// refuse the classic hostile shapes: empty, truncated, oversize length fields.
final class FuzzRegressionTests: XCTestCase {
    func testCommittedCorporaPassEveryProperty() throws {
        let root = RepositoryPaths.root.appendingPathComponent("Tests/FuzzCorpus")
        var replayed = 0
        for target in FuzzTarget.allCases {
            let folder = root.appendingPathComponent(target.rawValue)
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            XCTAssertFalse(files.isEmpty, "no seeds for \(target)")
            for file in files {
                target.run(Array(try Data(contentsOf: folder.appendingPathComponent(file))))
                replayed += 1
            }
            let replay = try ProcessRunner.run(RepositoryPaths.executable("iias-fuzz"), [target.rawValue, folder.path], timeout: 60)
            XCTAssertEqual(replay.status, 0, replay.stderr)
        }
        XCTAssertGreaterThan(replayed, 20)
    }

    func testHostileShapesAreRefusedWithoutCrashing() {
        let shapes: [[UInt8]] = [
            [], [0], [0xFF, 0xFF, 0xFF, 0xFF, 0x02], [0x00, 0x00, 0x00, 0x05, 0x02, 0x01],
            Array("IIAS".utf8), Array("IIAS".utf8) + [1, 0xFF, 0xFF, 0xFF, 0xFF], Array("IIAS".utf8) + [9],
            Array("{\"version\":1,".utf8), Array(repeating: 0x5B, count: 10_000), [0x00, 0x01, 0x00, 0x00] + Array(repeating: 0, count: 100),
        ]
        for shape in shapes { for target in FuzzTarget.allCases { target.run(shape) } }
    }
}
