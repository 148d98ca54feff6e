import IIASCrypto
import XCTest

/// The key a node encrypts its own records under: derived the same way from the same
/// private key every time, and nothing else opens, moves or alters what it sealed.
final class SelfSealingKeyTests: XCTestCase {
    private let plaintext = Array(#"{"category":"terrorism","priority":"flash","subject":"Pipeline"}"#.utf8)
    private let bound = Array("IIAS-outbox-summary\0".utf8) + Array(repeating: 7, count: 16)

    private func key(_ raw: [UInt8]) throws -> SelfSealingKey {
        try raw.withUnsafeBytes { try EncryptionPrivateKey(rawRepresentation: $0) }.selfSealingKey(for: .outboxSummary)
    }

    func testTheSameKeyIsDerivedAgainAndOpensWhatItSealed() throws {
        let raw = (0..<32).map { UInt8($0 * 7 % 251) }
        let record = try key(raw).seal(plaintext, associatedData: bound)
        XCTAssertEqual(record.count, plaintext.count + SelfSealingKey.overhead)
        XCTAssertEqual(try key(raw).open(record, associatedData: bound), plaintext, "a restarted node derives the same key")
        XCTAssertNotEqual(try key(raw).seal(plaintext, associatedData: bound), record, "a fresh random nonce per record")
        XCTAssertNil(record.firstRange(of: plaintext.prefix(8)), "no plaintext in the record")
    }

    func testAnotherKeyOtherBindingTamperingAndTruncationAreRefused() throws {
        let raw = (0..<32).map { UInt8($0) }
        let sealing = try key(raw)
        let record = sealing.seal(plaintext, associatedData: bound)
        XCTAssertNil(EncryptionPrivateKey.generate().selfSealingKey(for: .outboxSummary).open(record, associatedData: bound))
        var otherRaw = raw
        otherRaw[31] ^= 1
        XCTAssertNil(try key(otherRaw).open(record, associatedData: bound), "one bit of the private key changes the key")
        var moved = bound
        moved[moved.count - 1] ^= 1
        XCTAssertNil(sealing.open(record, associatedData: moved), "bound to its envelope: cannot be moved to another")
        for position in record.indices {
            var altered = record
            altered[position] ^= 0x01
            XCTAssertNil(sealing.open(altered, associatedData: bound), "byte \(position) changed")
        }
        for length in 0..<record.count {
            XCTAssertNil(sealing.open(Array(record.prefix(length)), associatedData: bound), "truncated to \(length)")
        }
        XCTAssertNil(sealing.open(record + [0], associatedData: bound), "a byte appended")
        XCTAssertEqual(sealing.open(sealing.seal([], associatedData: bound), associatedData: bound), [], "an empty record is still a record")
    }

    /// The derived key is not the X25519 key itself: a sealed box to the public key does
    /// not open as a record, and a record does not open as a sealed box.
    func testRecordsAndSealedBoxesDoNotOpenAsEachOther() throws {
        let privateKey = EncryptionPrivateKey.generate()
        let sealing = privateKey.selfSealingKey(for: .outboxSummary)
        XCTAssertNil(sealing.open(privateKey.publicKey.seal(plaintext), associatedData: bound))
        XCTAssertNil(privateKey.open(sealing.seal(plaintext, associatedData: bound)))
    }
}
