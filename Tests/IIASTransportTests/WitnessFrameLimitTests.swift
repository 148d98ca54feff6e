import IIASTransport
import XCTest

/// The witness frames' own ceilings, below the connection's maximum, checked on the
/// 5-byte header before any body byte is held.
final class WitnessFrameLimitTests: XCTestCase {
    let codec = FrameCodec()

    private func header(length: UInt32, type: FrameType) -> [UInt8] {
        [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type.rawValue]
    }

    func testAWitnessRequestOverItsCeilingIsRefusedFromTheHeader() throws {
        let limit = FrameType.maximumWitnessRequestLength
        XCTAssertEqual(try codec.peekHeader(header(length: limit, type: .witnessRequest)),
                       .frame(type: FrameType.witnessRequest.rawValue, frameLength: 4 + Int(limit)))
        XCTAssertThrowsError(try codec.peekHeader(header(length: limit + 1, type: .witnessRequest))) {
            XCTAssertEqual($0 as? FrameError, .oversize(announced: limit + 1, maximum: limit))
        }
        // An envelope of that length is fine: the ceiling is the witness frame's alone.
        XCTAssertNoThrow(try codec.peekHeader(header(length: limit + 1, type: .envelope)))
    }

    func testAWitnessResponseOverItsCeilingIsRefusedFromTheHeader() {
        let limit = FrameType.maximumWitnessResponseLength
        XCTAssertThrowsError(try codec.peekHeader(header(length: limit + 1, type: .witnessResponse))) {
            XCTAssertEqual($0 as? FrameError, .oversize(announced: limit + 1, maximum: limit))
        }
        XCTAssertThrowsError(try codec.encode(.witnessResponse(Array(repeating: 0, count: Int(limit) + 1)))) {
            XCTAssertEqual($0 as? FrameError, .frameTooLargeToSend(Int(limit) + 2))
        }
    }

    func testTheCeilingHoldsA64KiBNoteWith63ProofLines() {
        let request = "old 18446744073709551615\n" + String(repeating: String(repeating: "A", count: 44) + "\n", count: 63) + "\n"
            + String(repeating: "n", count: 64 << 10)
        XCTAssertLessThanOrEqual(request.utf8.count + 1, Int(FrameType.maximumWitnessRequestLength))
    }
}
