import Foundation
import IIASAPI
import IIASModel
import XCTest
@testable import IIASNode

/// SEEN_ENVELOPES bodies read byte by byte: what `body` writes reads back, the digest in
/// either case of hex, and any line off the grammar refuses the whole frame.
final class SeenEnvelopeTests: XCTestCase {
    private let id = UUID(uuidString: "0b3c6f1e-2d4a-4f6b-9c8d-7e6f5a4b3c2d")!
    private let hex = String(repeating: "0f", count: 32)

    func testLinesOfEveryCenterSpellingReadBack() throws {
        let items = ["AZ", "UA-SBU", "GE-1"].enumerated().map { number, center in
            SeenEnvelope(key: EnvelopeKey(sender: CenterID(center)!, id: UUID()), sha256: (0..<32).map { UInt8(($0 * 7 + number) & 0xff) })
        }
        XCTAssertEqual(SeenEnvelope.parse(SeenEnvelope.body(items)), items)
        let upper = SeenEnvelope.parse(Array("AZ \(id.uuidString) \(hex.uppercased())\n".utf8))
        XCTAssertEqual(upper, [SeenEnvelope(key: EnvelopeKey(sender: CenterID("AZ")!, id: id), sha256: Array(repeating: 0x0f, count: 32))])
    }

    func testBodiesOffTheGrammarAreRefused() {
        let good = "AZ \(id.uuidString.lowercased()) \(hex)\n"
        XCTAssertNotNil(SeenEnvelope.parse(Array(good.utf8)))
        let bad: [[UInt8]] = [
            Array("\n".utf8), Array((good + "\n").utf8), Array((good + good.dropLast()).utf8),
            Array("AZ \(id.uuidString.lowercased()) \(hex.dropLast())g\n".utf8),
            Array("AZ \(id.uuidString.lowercased())x\(hex)\n".utf8),
            Array("AZ-\(id.uuidString.lowercased()) \(hex)\n".utf8),
            Array(" \(id.uuidString.lowercased()) \(hex)\n".utf8),
            [0xC3, 0x28] + Array(" \(id.uuidString.lowercased()) \(hex)\n".utf8),
            Array("AZ \(id.uuidString.lowercased()) \(hex)0\n".utf8),
        ]
        for body in bad { XCTAssertNil(SeenEnvelope.parse(body), String(decoding: body, as: UTF8.self)) }
    }
}
