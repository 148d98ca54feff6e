import Foundation
import IIASCrypto
import IIASLog
@testable import IIASNode
import XCTest

/// The WITNESS_RESPONSE body: what a witness writes, what a log reads back, and what it
/// refuses to read.
final class WitnessResponseTests: XCTestCase {
    func testACosignatureRoundTripsAsItsLine() throws {
        let key = SigningPrivateKey.generate()
        let cosignature = Cosignature.sign(body: "iias:center:AZ/log\n3\nAAAA\n", name: Cosignature.name(center: "GE"), key: key, timestamp: 1_800_000_000)
        let read = try XCTUnwrap(WitnessResponse(bytes: WitnessResponse(cosignature: cosignature).bytes))
        XCTAssertEqual(read.status, 200)
        XCTAssertEqual(read.cosignatureLines, [cosignature.noteSignature])
        XCTAssertNil(read.conflictSize)
    }

    func testAConflictCarriesTheSizeAndNothingElse() {
        XCTAssertEqual(WitnessResponse(bytes: WitnessResponse(conflict: 12).bytes)?.conflictSize, 12)
        XCTAssertNil(WitnessResponse(bytes: Array("409\n012\n".utf8))?.conflictSize, "leading zeros")
        XCTAssertNil(WitnessResponse(bytes: Array("409\n12".utf8))?.conflictSize, "no final newline")
        XCTAssertNil(WitnessResponse(bytes: Array("200\n12\n".utf8))?.conflictSize, "not a 409")
    }

    func testARefusalIsOneLineWithItsStatus() throws {
        let response = WitnessResponse(refusal: .tooManyProofLines(64))
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.body.filter { $0 == "\n" }.count, 1)
        let multiline = WitnessResponse(status: 403, reason: "first\nsecond")
        XCTAssertEqual(multiline.reason, "first second")
        XCTAssertNil(try XCTUnwrap(WitnessResponse(bytes: multiline.bytes)).cosignatureLines)
    }

    func testBadBodiesAreNotResponses() {
        XCTAssertNil(WitnessResponse(bytes: [0xFF, 0x0A]), "not UTF-8")
        XCTAssertNil(WitnessResponse(bytes: Array("OK\n".utf8)), "no status")
        XCTAssertNil(WitnessResponse(bytes: Array("200".utf8)), "no newline")
        XCTAssertNil(WitnessResponse(bytes: Array("999\n".utf8)), "status out of range")
        XCTAssertNil(WitnessResponse(bytes: Array(repeating: 0x41, count: WitnessResponse.maximumBytes + 1)), "too long")
        XCTAssertNil(WitnessResponse(bytes: Array("200\nnot a signature line\n".utf8))?.cosignatureLines)
    }
}
