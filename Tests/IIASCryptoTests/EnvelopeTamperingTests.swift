import Foundation
import IIASCrypto
import IIASModel
import IIASTestSupport
import XCTest

final class EnvelopeTamperingTests: XCTestCase {
    /// Every single-byte change anywhere in a sealed envelope is caught: by the parser,
    /// by the canonical-header check, or by the signature; never a crash, never accepted.
    func testFlippingAnyByteIsRejected() throws {
        let envelope = try Samples.sealed(to: ["GE"], summaryBytes: 40)
        XCTAssertNoThrow(try Samples.verifier.verify(envelope))
        var accepted: [Int] = []
        for position in envelope.bytes.indices {
            var bytes = envelope.bytes
            bytes[position] ^= 0x01 << UInt8(position % 8)
            do {
                let parsed = try Envelope(parsing: bytes)
                _ = try Samples.verifier.verify(parsed)
                accepted.append(position)
            } catch is EnvelopeError {
                continue
            }
        }
        XCTAssertEqual(accepted, [], "tampered envelopes accepted at these byte positions")
        XCTAssertGreaterThan(envelope.bytes.count, 300)
    }

    func testEmptyInputIsRefused() {
        assertRefused([], as: "empty") { if case .empty = $0 { true } else { false } }
    }

    func testWrongMagicIsRefused() throws {
        var bytes = try Samples.sealed().bytes
        bytes[0] = UInt8(ascii: "X")
        assertRefused(bytes, as: "badMagic") { if case .badMagic = $0 { true } else { false } }
        assertRefused(Array("%PDF-1.7 not an envelope".utf8), as: "badMagic") { if case .badMagic = $0 { true } else { false } }
    }

    func testWrongVersionIsRefused() throws {
        var bytes = try Samples.sealed().bytes
        for version: UInt8 in [0, 4, 0xFF] {
            bytes[4] = version
            assertRefused(bytes, as: "unsupportedVersion") { if case .unsupportedVersion(version) = $0 { true } else { false } }
        }
    }

    func testEveryTruncationIsRefused() throws {
        let bytes = try Samples.sealed().bytes
        for length in stride(from: 1, to: bytes.count, by: 7) {
            XCTAssertThrowsError(try Envelope(parsing: Array(bytes.prefix(length))), "length \(length)") { error in
                switch error as? EnvelopeError {
                case .truncated, .badMagic: break
                default: XCTFail("length \(length): \(error)")
                }
            }
        }
    }

    func testTrailingBytesAreRefused() throws {
        let bytes = try Samples.sealed().bytes + [0]
        assertRefused(bytes, as: "trailingBytes") { if case .trailingBytes(1) = $0 { true } else { false } }
    }

    func testAnOversizedLengthIsRefusedBeforeAllocation() {
        // Announces a 4 GiB header in a 13-byte input: refused on the length alone.
        let bytes = Envelope.magic + [1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        assertRefused(bytes, as: "tooLarge(header)") { if case .tooLarge(part: "header", _, _) = $0 { true } else { false } }
        let body = Envelope.magic + [1, 0, 0, 0, 2] + Array("{}".utf8) + [0x7F, 0xFF, 0xFF, 0xFF]
        assertRefused(body, as: "tooLarge(body)") { if case .tooLarge(part: "body", _, _) = $0 { true } else { false } }
    }

    func testGarbageHeaderJSONIsRefused() {
        for header in ["not json at all", "[1,2,3]", "{\"id\":", "\u{0}\u{1}\u{2}", "{}"] {
            let bytes = Self.layout(header: Array(header.utf8), body: [UInt8](repeating: 0, count: 16))
            assertRefused(bytes, as: "malformedHeader for \(header.debugDescription)") {
                if case .malformedHeader = $0 { true } else { false }
            }
        }
    }

    func testAHeaderFieldOfTheWrongTypeIsNamed() throws {
        let envelope = try Samples.sealed(to: ["GE"])
        var object = try JSONSerialization.jsonObject(with: Data(envelope.headerBytes)) as! [String: Any]
        object["sender"] = 42
        let header = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        let bytes = Self.layout(header: [UInt8](header), body: Array(envelope.body))
        XCTAssertThrowsError(try Envelope(parsing: bytes)) { error in
            XCTAssertTrue("\(error)".contains("sender"), "\(error)")
        }
    }

    func testANonCanonicalHeaderIsRefused() throws {
        // Same fields, one extra space: a second encoding of the same header is refused.
        let envelope = try Samples.sealed(to: ["GE"])
        var header = Array(envelope.headerBytes)
        header.insert(UInt8(ascii: " "), at: 1)
        let bytes = Self.layout(header: header, body: Array(envelope.body))
        assertRefused(bytes, as: "nonCanonicalHeader") { if case .nonCanonicalHeader = $0 { true } else { false } }
    }

    func testADuplicatedHeaderFieldIsRefused() throws {
        // Two "sender" members: parsers disagree on which wins, so neither may.
        let envelope = try Samples.sealed(to: ["GE"])
        let text = String(decoding: envelope.headerBytes, as: UTF8.self)
        let duplicated = text.replacingOccurrences(of: "\"sender\":\"AZ\"", with: "\"sender\":\"AZ\",\"sender\":\"TJ\"")
        XCTAssertNotEqual(duplicated, text)
        let bytes = Self.layout(header: Array(duplicated.utf8), body: Array(envelope.body))
        XCTAssertThrowsError(try Envelope(parsing: bytes)) { error in
            XCTAssertTrue("\(error)".contains("/sender: the field occurs twice"), "\(error)")
        }
    }

    func testAnUnknownHeaderFieldIsRefused() throws {
        let envelope = try Samples.sealed(to: ["GE"])
        var object = try JSONSerialization.jsonObject(with: Data(envelope.headerBytes)) as! [String: Any]
        object["zzz"] = "smuggled"
        let header = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        let bytes = Self.layout(header: [UInt8](header), body: Array(envelope.body))
        XCTAssertThrowsError(try Envelope(parsing: bytes)) { error in
            XCTAssertTrue("\(error)".contains("zzz: unknown field"), "\(error)")
        }
    }

    func testARecipientListAlteredAfterSigningIsRefused() throws {
        // Drop MD from a GE+MD envelope and re-lay it out: the signature no longer covers it.
        let envelope = try Samples.sealed(to: ["GE", "MD"])
        var object = try JSONSerialization.jsonObject(with: Data(envelope.headerBytes)) as! [String: Any]
        object["recipients"] = ["GE"]
        var keys = object["keys"] as! [String: Any]
        keys.removeValue(forKey: "MD")
        object["keys"] = keys
        let header = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        let bytes = Self.layout(header: [UInt8](header), body: Array(envelope.body), signature: Array(envelope.signature))
        let parsed = try Envelope(parsing: bytes)
        XCTAssertThrowsError(try Samples.verifier.verify(parsed)) { error in
            guard case EnvelopeError.badSignature = error else { return XCTFail("got \(error)") }
        }
    }

    func testTooManyRecipientsAreRefused() throws {
        let envelope = try Samples.sealed(to: ["GE"])
        var object = try JSONSerialization.jsonObject(with: Data(envelope.headerBytes)) as! [String: Any]
        object["recipients"] = (0..<65).map { "GE-U\($0)" }
        let header = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        assertRefused(Self.layout(header: [UInt8](header), body: Array(envelope.body)), as: "tooLarge(recipients)") {
            if case .tooLarge(part: "recipient list", _, _) = $0 { true } else { false }
        }
    }

    // MARK: - Helpers

    static func layout(header: [UInt8], body: [UInt8], signature: [UInt8] = [UInt8](repeating: 7, count: 64)) -> [UInt8] {
        func be(_ n: Int) -> [UInt8] { [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
        return Envelope.magic + [Envelope.currentVersion] + be(header.count) + header + be(body.count) + body + signature
    }

    private func assertRefused(_ bytes: [UInt8], as expected: String, file: StaticString = #filePath, line: UInt = #line,
                               _ matches: (EnvelopeError) -> Bool) {
        do {
            _ = try Envelope(parsing: bytes)
            XCTFail("accepted; expected \(expected)", file: file, line: line)
        } catch let error as EnvelopeError {
            XCTAssertTrue(matches(error), "expected \(expected), got \(error)", file: file, line: line)
            XCTAssertFalse(error.description.isEmpty)
        } catch {
            XCTFail("unexpected error type \(error)", file: file, line: line)
        }
    }
}
