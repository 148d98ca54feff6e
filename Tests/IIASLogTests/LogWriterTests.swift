import Foundation
import IIASCrypto
import IIASLog
import XCTest

/// The group-commit writer's hand-over and end: open gives it the active segment, close
/// leaves the files for the next store, and a store without a writer takes no appends.
final class LogWriterTests: XCTestCase {
    func freshDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iias-writer-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    func payload(_ i: Int) -> [UInt8] { Array("entry \(i) ".utf8) + [UInt8](repeating: UInt8(i & 0xFF), count: 200) }

    func testAppendsAfterReopenContinueInTheActiveSegmentAndRollOnFromIt() async throws {
        let dir = try freshDirectory()
        let first = try LogStore(directory: dir, segmentSize: 2048)
        for i in 0..<20 { _ = try await first.append(type: .sent, payload: payload(i)) }
        first.close()
        let segmentsBefore = try segmentNames(dir)
        XCTAssertGreaterThan(segmentsBefore.count, 1, "segments rolled before the reopen")

        let second = try LogStore(directory: dir, segmentSize: 2048)
        let resumed = try await second.append(type: .sent, payload: payload(20))
        XCTAssertEqual(resumed, 20)
        XCTAssertEqual(second.location(of: 20)?.segment, segmentsBefore.last, "the first append after open goes to the active segment")
        for i in 21..<60 { _ = try await second.append(type: .sent, payload: payload(i)) }
        XCTAssertGreaterThan(try segmentNames(dir).count, segmentsBefore.count, "segments rolled after the reopen")
        for i in 0..<60 { XCTAssertEqual(try second.entry(at: UInt64(i)).payload, payload(i), "entry \(i)") }
        second.close()

        let audit = try LogStore(directory: dir, readOnly: true)
        XCTAssertEqual(audit.count, 60)
        XCTAssertNil(audit.truncatedTail)
        XCTAssertEqual(audit.rootHash, second.rootHash)
    }

    func testCloseCutsTheZerosAheadReleasesTheDirectoryAndRefusesLaterAppends() async throws {
        let dir = try freshDirectory()
        let log = try LogStore(directory: dir)
        for i in 0..<5 { _ = try await log.append(type: .sent, payload: payload(i)) }
        let segment = dir + "/" + (try segmentNames(dir).last!)
        XCTAssertGreaterThan(try fileSize(segment), 1 << 19, "zeros are written ahead while the log is open")
        XCTAssertThrowsError(try LogStore(directory: dir)) { XCTAssertEqual($0 as? LogStoreError, .inUse(directory: dir)) }

        log.close()
        let end = log.location(of: 4)!.offset + Record.headerSize + (try log.entry(at: 4)).encoded().count
        XCTAssertEqual(try fileSize(segment), end, "a clean close leaves the segment ending at its last record")
        do {
            _ = try await log.append(type: .sent, payload: payload(5))
            XCTFail("an append after close was accepted")
        } catch {
            XCTAssertEqual(error as? LogStoreError, .closed)
        }
        let reopened = try LogStore(directory: dir)
        defer { reopened.close() }
        XCTAssertEqual(reopened.count, 5)
    }

    func testReadOnlyStoreRefusesAppendsAndTreeHeads() async throws {
        let dir = try freshDirectory()
        let log = try LogStore(directory: dir)
        _ = try await log.append(type: .sent, payload: payload(0))
        log.close()
        let audit = try LogStore(directory: dir, readOnly: true)
        do {
            _ = try await audit.append(type: .sent, payload: payload(1))
            XCTFail("a read-only store took an append")
        } catch {
            XCTAssertEqual(error as? LogStoreError, .closed)
        }
        do {
            try await audit.appendTreeHead(signer: "AZ", key: SigningPrivateKey.generate())
            XCTFail("a read-only store took a tree head")
        } catch {
            XCTAssertEqual(error as? LogStoreError, .closed)
        }
        XCTAssertEqual(audit.count, 1)
    }

    func segmentNames(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }.sorted()
    }

    func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
    }
}
