import Foundation
import IIASLog
@testable import IIASNode
import XCTest

/// The append-only file of a peer's receipt proofs on a real disk: what is appended reads
/// back after a reopen (the index rebuilt), a torn last write is cut, a record altered in
/// place refuses the file, and an id kept once is never kept twice.
final class ProofsFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("proofs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private var path: String { directory.appendingPathComponent("GE.proofs").path }

    private func proof(_ byte: UInt8, hashes: Int = 3) -> ProofsFile.Proof {
        .init(envelopeID: UUID(), sha256: Array(repeating: byte, count: 32), extra: Array(repeating: byte &+ 1, count: EntryLeaf.byteCount),
              proof: (0..<hashes).map { Array(repeating: byte &+ UInt8($0), count: 32) })
    }

    private let note = Array("iias:center:GE/log\n5\nAAAA\n\n— iias:center:GE/log AAAA\n".utf8)

    func testAppendedProofsReadBackAfterAReopen() throws {
        let first = [proof(1), proof(2, hashes: 0)], second = [proof(3, hashes: 63)]
        do {
            let file = try ProofsFile(path: path)
            XCTAssertEqual(try file.append(checkpoint: note, first), 2)
            XCTAssertEqual(try file.append(checkpoint: note + [0x0A], second), 1)
            XCTAssertEqual(try file.append(checkpoint: note, [first[0]]), 0, "an id kept once is not kept again")
        }
        let reopened = try ProofsFile(path: path)
        XCTAssertEqual(reopened.count, 3, "the index is rebuilt from the file")
        for kept in first { XCTAssertEqual(try reopened.read(kept.envelopeID)?.proof, kept) }
        XCTAssertEqual(try reopened.read(first[1].envelopeID)?.checkpoint, note)
        XCTAssertEqual(try reopened.read(second[0].envelopeID)?.checkpoint, note + [0x0A], "each proof with its own frame's checkpoint")
        XCTAssertNil(try reopened.read(UUID()))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
    }

    func testATornLastWriteIsCutAndTheFileAppendsOn() throws {
        let kept = proof(1), torn = proof(2)
        let whole: Int
        do {
            let file = try ProofsFile(path: path)
            try file.append(checkpoint: note, [kept])
            whole = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            try file.append(checkpoint: note, [torn])
        }
        let full = try XCTUnwrap(FileManager.default.contents(atPath: path))
        for cut in [whole + 3, whole + 8, whole + 20, full.count - 1] {
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            let file = try ProofsFile(path: path)
            XCTAssertEqual(file.count, 1, "cut at \(cut): the whole record stays")
            XCTAssertNil(try file.read(torn.envelopeID))
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            if cut < whole + 20 + 8 { XCTAssertEqual(size, whole, "the torn tail is cut off") } else { XCTAssertLessThan(size, cut, "the torn entry is cut off") }
        }
        let file = try ProofsFile(path: path)
        XCTAssertEqual(try file.append(checkpoint: note, [torn]), 1, "the proof torn away can be kept again")
        XCTAssertEqual(try ProofsFile(path: path).read(torn.envelopeID)?.proof, torn)
    }

    func testARecordAlteredInPlaceIsRefused() throws {
        let kept = [proof(1), proof(2)]
        try ProofsFile(path: path).append(checkpoint: note, kept)
        let good = try XCTUnwrap(FileManager.default.contents(atPath: path))
        let lastRecord = good.count - (8 + 1 + 16 + 32 + 8 + EntryLeaf.byteCount + 1 + 3 * 32)
        for offset in [0, 5, 12, 30, lastRecord - 150, lastRecord - 1] {
            var altered = good
            altered[offset] ^= 0x40
            try altered.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try ProofsFile(path: path), "byte \(offset) flipped")
        }
        // The last record altered cannot be told from a torn write: it is cut, never served.
        var lastAltered = good
        lastAltered[lastRecord + 40] ^= 0x40
        try lastAltered.write(to: URL(fileURLWithPath: path))
        let cut = try ProofsFile(path: path)
        XCTAssertNil(try cut.read(kept[1].envelopeID))
        XCTAssertNotNil(try cut.read(kept[0].envelopeID))
        // Altered after the file was opened: the read checks the record again.
        try good.write(to: URL(fileURLWithPath: path))
        let file = try ProofsFile(path: path)
        var altered = good
        altered[good.count - 10] ^= 0x01
        try altered.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try file.read(kept[1].envelopeID))
        XCTAssertNoThrow(try file.read(kept[0].envelopeID), "the other record is intact")
    }

    func testGarbageIsNotAProofsFile() throws {
        try Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ProofsFile(path: path))
    }
}
