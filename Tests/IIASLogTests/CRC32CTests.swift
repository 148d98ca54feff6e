import IIASLog
import XCTest

/// Known answers from RFC 3720 (iSCSI) Appendix B.4 "CRC Examples", plus the
/// common check value of "123456789" (0xE3069283, Castagnoli CRC catalogue).
final class CRC32CTests: XCTestCase {
    func testRFC3720Vectors() {
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    }

    /// The slicing-by-8 path must agree with the byte-at-a-time path for every length/alignment.
    func testSlicingMatchesBytewise() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for length in 0..<data.count {
            var crc: UInt32 = 0xFFFF_FFFF
            for b in data[0..<length] {
                crc ^= UInt32(b)
                for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            }
            XCTAssertEqual(CRC32C.checksum(Array(data[0..<length])), ~crc, "length \(length)")
        }
    }
}
