import Foundation
@testable import IIASAPI
@testable import IIASNode
import XCTest

/// The id → position table the ledger finds envelopes with, against a dictionary.
final class UUIDPositionsTests: XCTestCase {
    func testEveryIdIsFoundAtItsPositionAcrossGrowthAndAbsentOnesAreNot() {
        var ids: [UUID] = []
        var table = UUIDPositions()
        for n in 0..<20_000 {
            ids.append(UUID())
            table.insert(n, of: ids)
            if n % 997 == 0 { XCTAssertEqual(table.position(of: ids[n / 2], in: ids), n / 2) }
        }
        XCTAssertEqual(table.count, ids.count)
        for (position, id) in ids.enumerated() where position % 7 == 0 { XCTAssertEqual(table.position(of: id, in: ids), position) }
        for _ in 0..<1000 { XCTAssertNil(table.position(of: UUID(), in: ids)) }
        // Rebuilt from the ids alone (a loaded snapshot): the same answers.
        let rebuilt = UUIDPositions(ids)
        for (position, id) in ids.enumerated() where position % 11 == 0 { XCTAssertEqual(rebuilt.position(of: id, in: ids), position) }
        XCTAssertNil(UUIDPositions([]).position(of: UUID(), in: []))
    }

    /// Ids that share every byte but one still land apart (Hasher is seeded, not the bytes).
    func testNearlyEqualIdsAreAllFound() {
        var ids: [UUID] = []
        var table = UUIDPositions()
        for n in 0..<4096 {
            var bytes = [UInt8](repeating: 0x42, count: 16)
            bytes[15] = UInt8(n & 0xFF)
            bytes[14] = UInt8(n >> 8)
            ids.append(UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                                   bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15])))
            table.insert(n, of: ids)
        }
        for (position, id) in ids.enumerated() { XCTAssertEqual(table.position(of: id, in: ids), position) }
    }

    /// A table built from ids that must be unique (a snapshot's) refuses a repeat
    /// anywhere in the list, and otherwise answers like the plain one.
    func testUniqueIdsAreCheckedWhileTheTableIsBuilt() throws {
        let ids = (0..<5000).map { _ in UUID() }
        let table = try XCTUnwrap(UUIDPositions(unique: ids))
        XCTAssertEqual(table.count, ids.count)
        for (position, id) in ids.enumerated() where position % 13 == 0 { XCTAssertEqual(table.position(of: id, in: ids), position) }
        for repeated in [0, 1, 2500, 4999] {
            XCTAssertNil(UUIDPositions(unique: ids + [ids[repeated]]), "a repeat of position \(repeated) at the end")
            var moved = ids
            moved.insert(ids[repeated], at: 0)
            XCTAssertNil(UUIDPositions(unique: moved), "a repeat of position \(repeated) at the start")
        }
        XCTAssertNotNil(UUIDPositions(unique: []))
    }
}
