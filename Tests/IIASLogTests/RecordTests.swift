import IIASLog
import XCTest

final class RecordTests: XCTestCase {
    let entry = LogEntry(index: 42, timeMilliseconds: 1_764_000_000_123, type: .sent, payload: Array("envelope".utf8))

    func testRoundTrip() throws {
        let bytes = Record.encode(entry)
        XCTAssertEqual(bytes.count, Record.headerSize + 17 + 8)
        let (decoded, size) = try Record.decode(bytes[...], maximumEntrySize: 1024)
        XCTAssertEqual(decoded, entry)
        XCTAssertEqual(size, bytes.count)
    }

    func testEveryFlippedByteIsRejected() {
        let bytes = Record.encode(entry)
        for i in 0..<bytes.count {
            var bad = bytes
            bad[i] ^= 0x01
            XCTAssertThrowsError(try Record.decode(bad[...], maximumEntrySize: 1024), "byte \(i)")
        }
    }

    func testEveryTruncationIsRejected() {
        let bytes = Record.encode(entry)
        for n in 0..<bytes.count {
            XCTAssertThrowsError(try Record.decode(bytes[0..<n], maximumEntrySize: 1024)) { error in
                guard case LogError.truncated = error else { return XCTFail("\(n): \(error)") }
            }
        }
    }

    /// A huge declared length is refused from the header alone, before any allocation.
    func testOversizeLengthRefusedBeforeAllocation() {
        let header: [UInt8] = [0xFF, 0xFF, 0xFF, 0xF0, 0, 0, 0, 0]
        XCTAssertThrowsError(try Record.decode(header[...], maximumEntrySize: 1 << 20)) { error in
            XCTAssertEqual(error as? LogError, .recordTooLarge(length: 0xFFFF_FFF0, maximum: 1 << 20))
        }
    }

    func testGarbageIsRejected() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let junk = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            XCTAssertThrowsError(try Record.decode(junk[...], maximumEntrySize: 1 << 16))
        }
    }

    func testUnknownTypeIsRejected() throws {
        var body = entry.encoded()
        body[16] = 0xEE
        XCTAssertThrowsError(try LogEntry(decoding: body[...])) { error in
            guard case LogError.malformedEntry = error else { return XCTFail("\(error)") }
        }
    }
}
