import Foundation
import IIASLog
import IIASTestSupport
import XCTest

/// Small files replaced atomically and read back in one copy (checkpoint, ledger snapshot).
final class DurableFileTests: XCTestCase {
    func testWriteReplacesWithMode0600AndReadGivesTheBytesBack() throws {
        let path = try makeTemporaryDirectory("iias-durable").appendingPathComponent("file").path
        XCTAssertNil(try DurableFile.read(path), "a missing file is nil, not an error")
        let first = (0..<100_000).map { UInt8($0 % 251) }
        try DurableFile.write(first, to: path)
        XCTAssertEqual(try DurableFile.read(path), first)
        try DurableFile.write([1, 2, 3], to: path)
        XCTAssertEqual(try DurableFile.read(path), [1, 2, 3], "replaced whole, not overwritten in place")
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
        XCTAssertEqual(mode & 0o777, 0o600)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"), "no temporary file is left behind")
        try DurableFile.write([], to: path)
        XCTAssertEqual(try DurableFile.read(path), [])
    }

    func testAFileOverTheLimitIsRefusedBeforeReadingAndADirectoryIsAnError() throws {
        let folder = try makeTemporaryDirectory("iias-durable")
        let path = folder.appendingPathComponent("big").path
        try DurableFile.write([UInt8](repeating: 7, count: 4096), to: path)
        XCTAssertThrowsError(try DurableFile.read(path, limit: 4095)) { error in
            XCTAssertTrue("\(error)".contains("4096 bytes"), "\(error)")
        }
        XCTAssertThrowsError(try DurableFile.read(folder.path), "a directory is not a file")
        XCTAssertThrowsError(try DurableFile.write([1], to: folder.appendingPathComponent("missing/file").path))
    }
}
