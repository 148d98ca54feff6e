import Foundation
@testable import IIASCrypto
import IIASModel
import XCTest

/// Envelope version 2: content keys wrapped under the sender's ephemeral key of the
/// epoch, against version 1's sealed boxes, which every build still reads.
final class KeyWrapTests: XCTestCase {
    static let recipients = ["GE", "UA", "MD"]

    /// Sealed without naming the signer (versions 1 and 2), unless `namesSigner` (version 3).
    static func seal(_ transport: Envelope.KeyTransport, to recipients: [String] = recipients,
                     id: UUID = UUID(), namesSigner: Bool = false) throws -> Envelope {
        let notification = Samples.notification(to: recipients, id: id)
        let keys = try Samples.directory.encryptionKeys(for: notification.recipients, trust: Samples.trust)
        return try Envelope.seal(notification, signer: Samples.keys("AZ").signingKey, recipientKeys: keys, transport: transport,
                                 namesSigner: namesSigner)
    }

    func testEveryRecipientOpensAVersion2Envelope() throws {
        let envelope = try Self.seal(.wrapped(WrappingEpoch()))
        XCTAssertEqual(envelope.version, 2)
        XCTAssertEqual(envelope.header.ephemeral?.count, 32)
        XCTAssertTrue(envelope.header.sealedKeys.values.allSatisfy { $0.count == 48 })
        let parsed = try Envelope(parsing: envelope.bytes)
        XCTAssertEqual(parsed.header, envelope.header)
        let verified = try Samples.verifier.verify(parsed)
        for center in Self.recipients {
            let keys = Samples.keys(center)
            XCTAssertEqual(try verified.open(as: keys.center, with: keys.encryptionKey).id, envelope.id, center)
        }
        let outsider = Samples.keys("TJ")
        XCTAssertThrowsError(try verified.open(as: outsider.center, with: outsider.encryptionKey))
        XCTAssertThrowsError(try verified.open(as: CenterID("GE")!, with: Samples.keys("UA").encryptionKey)) { error in
            guard case EnvelopeError.wrongKey = error else { return XCTFail("got \(error)") }
        }
    }

    func testVersion1SealedBoxesStillSealAndOpen() throws {
        let envelope = try Self.seal(.sealedBoxes)
        XCTAssertEqual(envelope.version, 1)
        XCTAssertNil(envelope.header.ephemeral)
        XCTAssertTrue(envelope.header.sealedKeys.values.allSatisfy { $0.count == 80 })
        let verified = try Samples.verifier.verify(try Envelope(parsing: envelope.bytes))
        let ge = Samples.keys("GE")
        XCTAssertEqual(try verified.open(as: ge.center, with: ge.encryptionKey).id, envelope.id)
    }

    func testOneEpochSharesItsEphemeralKeyAndRotatesAtItsLimit() throws {
        let epoch = WrappingEpoch(envelopeLimit: 2)
        let first = try Self.seal(.wrapped(epoch)), second = try Self.seal(.wrapped(epoch)), third = try Self.seal(.wrapped(epoch))
        XCTAssertEqual(first.header.ephemeral, second.header.ephemeral)
        XCTAssertNotEqual(first.header.nonce, second.header.nonce)
        XCTAssertNotEqual(first.header.sealedKeys[CenterID("GE")!], second.header.sealedKeys[CenterID("GE")!],
                          "a fresh content key and nonce in every envelope")
        XCTAssertNotEqual(second.header.ephemeral, third.header.ephemeral, "a new key pair after the limit")
        XCTAssertNotEqual(try Self.seal(.wrapped(WrappingEpoch())).header.ephemeral, first.header.ephemeral)
        let ge = Samples.keys("GE")
        for envelope in [first, second, third] {
            XCTAssertEqual(try Samples.verifier.verify(envelope).open(as: ge.center, with: ge.encryptionKey).id, envelope.id)
        }
    }

    func testAnEpochEndsWithItsLifetime() throws {
        let epoch = WrappingEpoch(lifetime: 0.02)
        let first = try Self.seal(.wrapped(epoch))
        let deadline = Date().addingTimeInterval(10)
        var later = try Self.seal(.wrapped(epoch))
        while later.header.ephemeral == first.header.ephemeral, Date() < deadline { later = try Self.seal(.wrapped(epoch)) }
        XCTAssertNotEqual(later.header.ephemeral, first.header.ephemeral, "still the first key pair after 10 s")
    }

    /// A wrapped key is bound to its envelope and its recipient: moved into another
    /// envelope of the same epoch, or to another recipient's slot, and signed again by
    /// the sender itself, it does not unwrap.
    func testAWrappedKeyMovedToAnotherEnvelopeOrSlotDoesNotUnwrap() throws {
        let epoch = WrappingEpoch()
        let a = try Self.seal(.wrapped(epoch)), b = try Self.seal(.wrapped(epoch))
        let ge = CenterID("GE")!, ua = CenterID("UA")!
        var moved = a.header
        moved.sealedKeys[ge] = b.header.sealedKeys[ge]
        var swapped = a.header
        swapped.sealedKeys[ge] = a.header.sealedKeys[ua]
        swapped.sealedKeys[ua] = a.header.sealedKeys[ge]
        for header in [moved, swapped] {
            let resigned = Envelope(header: header, headerBytes: header.canonicalBytes, body: Array(a.body),
                                    signer: Samples.keys("AZ").signingKey)
            let verified = try Samples.verifier.verify(try Envelope(parsing: resigned.bytes))
            let keys = Samples.keys("GE")
            XCTAssertThrowsError(try verified.open(as: ge, with: keys.encryptionKey)) { error in
                guard case EnvelopeError.wrongKey = error else { return XCTFail("got \(error)") }
            }
        }
    }

    /// A signed envelope whose ephemeral key is a low-order point (the exchange gives
    /// zeros) is refused as a wrong key, not opened under a key anyone could compute.
    func testALowOrderEphemeralKeyDoesNotOpen() throws {
        let envelope = try Self.seal(.wrapped(WrappingEpoch()), to: ["GE"])
        var header = envelope.header
        header.ephemeral = [UInt8](repeating: 0, count: 32)
        let resigned = Envelope(header: header, headerBytes: header.canonicalBytes, body: Array(envelope.body),
                                signer: Samples.keys("AZ").signingKey)
        let ge = Samples.keys("GE")
        XCTAssertThrowsError(try Samples.verifier.verify(try Envelope(parsing: resigned.bytes)).open(as: ge.center, with: ge.encryptionKey)) { error in
            guard case EnvelopeError.wrongKey = error else { return XCTFail("got \(error)") }
        }
    }

    func testTheVersionByteMustAgreeWithTheHeader() throws {
        let wrapped = try Self.seal(.wrapped(WrappingEpoch())), boxes = try Self.seal(.sealedBoxes)
        let named = try Self.seal(.wrapped(WrappingEpoch()), namesSigner: true), namedBoxes = try Self.seal(.sealedBoxes, namesSigner: true)
        XCTAssertEqual([wrapped, boxes, named, namedBoxes].map(\.version), [2, 1, 3, 3])
        for (envelope, other) in [(wrapped, UInt8(1)), (wrapped, 3), (boxes, 2), (boxes, 3), (named, 2), (named, 1), (namedBoxes, 1)] {
            var bytes = envelope.bytes
            bytes[4] = other
            XCTAssertThrowsError(try Envelope(parsing: bytes), "version \(envelope.version) relabelled \(other)") { error in
                XCTAssertTrue("\(error)".contains("does not fit the header"), "\(error)")
            }
        }
        var future = try Self.seal(.wrapped(WrappingEpoch())).bytes
        future[4] = 4
        XCTAssertThrowsError(try Envelope(parsing: future)) { error in
            guard case EnvelopeError.unsupportedVersion(4) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue("\(error)".contains("upgrade"), "\(error)")
        }
    }

    func testALowOrderRecipientKeyIsRefusedWhenSealing() throws {
        let notification = Samples.notification(to: ["GE"])
        let zero = try EncryptionPublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32))
        XCTAssertThrowsError(try Envelope.seal(notification, signer: Samples.keys("AZ").signingKey,
                                               recipientKeys: [CenterID("GE")!: zero])) { error in
            guard case EnvelopeError.cannotSeal(let why) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(why.contains("GE"), why)
        }
    }

    /// The recipient remembers a bounded number of wrap keys however many epochs
    /// senders start, and still opens every envelope.
    func testTheRecipientsWrapKeyCacheStaysBounded() throws {
        let ge = Samples.keys("GE")
        for _ in 0..<(EncryptionPrivateKey.unwrapKeyCacheLimit + 8) {
            let envelope = try Self.seal(.wrapped(WrappingEpoch()), to: ["GE"])
            XCTAssertNoThrow(try Samples.verifier.verify(envelope).open(as: ge.center, with: ge.encryptionKey))
            XCTAssertLessThanOrEqual(ge.encryptionKey.unwrapKeys.withLock { $0.count }, EncryptionPrivateKey.unwrapKeyCacheLimit)
        }
    }
}
