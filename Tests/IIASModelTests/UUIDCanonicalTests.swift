import Foundation
@testable import IIASModel
import XCTest

/// The hand-written UUID spelling, parsing and generation against Foundation's.
final class UUIDCanonicalTests: XCTestCase {
    func testCanonicalStringIsFoundationsInLowerCaseAndParsesBack() {
        let fixed = [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                     UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))]
        for id in fixed + (0..<2000).map({ _ in UUID() }) {
            XCTAssertEqual(id.canonicalString, id.uuidString.lowercased())
            XCTAssertEqual(UUID(canonical: id.canonicalString), id)
        }
    }

    func testOnlyTheCanonicalSpellingParses() {
        let good = "0f8fad5b-d9cb-469f-a165-70867728950e"
        XCTAssertNotNil(UUID(canonical: good))
        for bad in [good.uppercased(), "{\(good)}", good.replacingOccurrences(of: "-", with: ""), String(good.dropLast()),
                    good + "0", "0f8fad5bd-9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950g",
                    "0f8fad5b-d9cb-469f-a165-70867728950\u{00E9}", "", String(repeating: "-", count: 36),
                    "0f8fad5b-d9cb-469f-a165-7086772895 e"] {
            XCTAssertNil(UUID(canonical: bad), bad)
        }
    }

    func testUpperCaseStringIsFoundationsAndEitherCaseReadsWhatFoundationReads() {
        for id in (0..<2000).map({ _ in UUID() }) {
            XCTAssertEqual(id.upperCaseString, id.uuidString)
            XCTAssertEqual(UUID(eitherCase: id.uuidString), id)
            XCTAssertEqual(UUID(eitherCase: id.canonicalString), id)
        }
        let good = "0f8fad5b-d9cb-469f-a165-70867728950e"
        for text in [good, good.uppercased(), "0F8fAD5b-d9CB-469f-A165-70867728950E", "{\(good)}", good.replacingOccurrences(of: "-", with: ""),
                     String(good.dropLast()), good + "0", "0f8fad5bd-9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950g",
                     "0F8FAD5B-D9CB-469F-A165-70867728950G", "0f8fad5b-d9cb-469f-a165-70867728950\u{00E9}", "", String(repeating: "-", count: 36),
                     " 0f8fad5b-d9cb-469f-a165-70867728950e"] {
            XCTAssertEqual(UUID(eitherCase: text), UUID(uuidString: text), text)
        }
        // Foundation's sscanf lets a space stand before a digit pair; this reader does not.
        XCTAssertNotNil(UUID(uuidString: "0f8fad5b-d9cb-469f-a165-7086772895 e"))
        XCTAssertNil(UUID(eitherCase: "0f8fad5b-d9cb-469f-a165-7086772895 e"))
    }

    func testRandomIdsAreVersion4VariantRFCAndDistinct() {
        var seen = Set<UUID>()
        for _ in 0..<10_000 {
            let id = UUID.random()
            let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
            XCTAssertEqual(bytes[6] >> 4, 4, "version 4")
            XCTAssertEqual(bytes[8] >> 6, 0b10, "RFC 9562 variant")
            XCTAssertTrue(seen.insert(id).inserted, "no repeats")
        }
        // Every other bit varies: no byte is stuck across 10,000 ids.
        let all = seen.map { withUnsafeBytes(of: $0.uuid) { Array($0) } }
        for position in 0..<16 {
            XCTAssertGreaterThan(Set(all.map { $0[position] }).count, position == 6 || position == 8 ? 8 : 200, "byte \(position)")
        }
    }
}
