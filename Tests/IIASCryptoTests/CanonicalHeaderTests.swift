import Foundation
@testable import IIASCrypto
import IIASModel
import XCTest

/// The one-pass reader of canonical headers against the general reader: on every header
/// a signer writes they agree, and on anything else the one-pass reader steps aside
/// (nil) rather than accept what the general reader refuses.
final class CanonicalHeaderTests: XCTestCase {
    static let sha = [UInt8](repeating: 0xAB, count: 32)

    /// Headers of every shape: notifications (versions 1 to 3) to 1…5 centers (country-and-agency ids included),
    /// receipts of each outcome and refusal reason, details with quotes and backslashes,
    /// and batches of delivery receipts.
    static func headers() -> [EnvelopeHeader] {
        let created = Date(timeIntervalSince1970: 1_764_000_000.123)
        let nonce = [UInt8](repeating: 7, count: XChaCha20Poly1305.nonceByteCount)
        let centers = ["GE", "UA", "MD", "KZ-CARICC", "FR-INTERPOL2"].map { CenterID(rawValue: $0)! }
        var out: [EnvelopeHeader] = []
        for n in 1...centers.count {
            let recipients = Array(centers.prefix(n))
            let keys = Dictionary(uniqueKeysWithValues: recipients.enumerated().map {
                ($0.element, [UInt8](repeating: UInt8($0.offset), count: Envelope.sealedKeyByteCount))
            })
            out.append(EnvelopeHeader(id: UUID(), kind: .notification, sender: CenterID(rawValue: "AZ")!, recipients: recipients,
                                      created: created, nonce: nonce, sealedKeys: keys))
            // Version 2: the epoch's ephemeral key and a wrapped key per recipient.
            let wrapped = keys.mapValues { [UInt8](repeating: $0[0] &+ 0x40, count: KeyWrap.wrappedByteCount) }
            out.append(EnvelopeHeader(id: UUID(), kind: .notification, sender: CenterID(rawValue: "AZ")!, recipients: recipients,
                                      created: created, nonce: nonce, ephemeral: [UInt8](repeating: 0x5A, count: 32),
                                      sealedKeys: wrapped))
            // Version 3: the same, naming the signing key (wrapped keys, and sealed boxes).
            out.append(EnvelopeHeader(id: UUID(), kind: .notification, sender: CenterID(rawValue: "AZ")!, recipients: recipients,
                                      created: created, nonce: nonce, ephemeral: [UInt8](repeating: 0x5A, count: 32),
                                      sealedKeys: wrapped, signer: sha))
            out.append(EnvelopeHeader(id: UUID(), kind: .notification, sender: CenterID(rawValue: "AZ")!, recipients: recipients,
                                      created: created, nonce: nonce, sealedKeys: keys, signer: sha))
        }
        var receipts: [Receipt] = [
            Receipt(envelopeID: UUID(), envelopeSHA256: sha, outcome: .delivered, logIndex: 0),
            Receipt(envelopeID: UUID(), envelopeSHA256: sha, outcome: .acknowledged, logIndex: 1 << 53),
        ]
        for reason in Receipt.RefusalReason.allCases {
            receipts.append(Receipt(envelopeID: UUID(), envelopeSHA256: sha, outcome: .refused, reason: reason,
                                    detail: "refused: \(reason.rawValue)"))
        }
        receipts.append(Receipt(envelopeID: UUID(), envelopeSHA256: sha, outcome: .refused, logIndex: 41, reason: .invalid,
                                detail: #"field "summary" has a \ in it"#))
        receipts.append(Receipt(envelopeID: UUID(), envelopeSHA256: sha, outcome: .refused, reason: .clockSkew, detail: ""))
        for receipt in receipts {
            out.append(EnvelopeHeader(id: UUID(), kind: .receipt, sender: CenterID(rawValue: "GE")!,
                                      recipients: [CenterID(rawValue: "AZ")!], created: created, receipt: receipt))
        }
        out.append(EnvelopeHeader(id: UUID(), kind: .receipt, sender: CenterID(rawValue: "GE")!, recipients: [CenterID(rawValue: "AZ")!],
                                  created: created, receipt: receipts[0], signer: [UInt8](repeating: 0x3C, count: 32)))
        for count in [2, 3] {
            let batch = (0..<count).map { Receipt(envelopeID: UUID(), envelopeSHA256: sha, outcome: .delivered, logIndex: UInt64($0) * 1000) }
            out.append(EnvelopeHeader(id: UUID(), kind: .receipt, sender: CenterID(rawValue: "GE")!,
                                      recipients: [CenterID(rawValue: "AZ")!], created: created, receiptBatch: batch))
            out.append(EnvelopeHeader(id: UUID(), kind: .receipt, sender: CenterID(rawValue: "GE")!,
                                      recipients: [CenterID(rawValue: "AZ")!], created: created, receiptBatch: batch, signer: sha))
        }
        return out
    }

    /// The canonical bytes are JCS: parsing them and writing the tree again with the
    /// generic RFC 8785 writer gives the same bytes — so envelopes signed before the
    /// direct writer existed still read as canonical.
    func testCanonicalBytesAreTheJCSFormOfTheHeader() throws {
        for header in Self.headers() {
            let bytes = header.canonicalBytes
            let tree = try JSONParser.parse(bytes).value
            XCTAssertEqual(JSONWriter.bytes(tree), bytes, String(decoding: bytes, as: UTF8.self))
        }
    }

    func testBothReadersAgreeOnEveryShapeOfHeader() throws {
        var readInOnePass = 0
        for header in Self.headers() {
            let bytes = header.canonicalBytes[...]
            let general = try EnvelopeHeader(parsingAnyForm: bytes)
            XCTAssertEqual(general, header)
            XCTAssertEqual(try EnvelopeHeader(parsing: bytes), header)
            if let fast = EnvelopeHeader.readCanonical(bytes) {
                XCTAssertEqual(fast, header)
                readInOnePass += 1
            } else {
                // Only a detail that needs escapes is left to the general reader.
                XCTAssertTrue(header.receipt?.detail?.contains(where: { $0 == "\"" || $0 == "\\" }) ?? false,
                              String(decoding: bytes, as: UTF8.self))
            }
        }
        XCTAssertEqual(readInOnePass, Self.headers().count - 1)
    }

    /// Every single-byte change of every header: the one-pass reader either steps aside
    /// or agrees with the general reader, which accepts the same header.
    func testTheOnePassReaderNeverAcceptsWhatTheGeneralReaderRefuses() throws {
        var mutations = 0, stepsAside = 0
        for header in Self.headers() {
            let original = header.canonicalBytes
            for position in original.indices {
                for replacement: UInt8 in [0x20, 0x22, 0x2C, 0x30, 0x39, 0x5C, 0x7D, original[position] ^ 0x01] {
                    var bytes = original
                    bytes[position] = replacement
                    guard bytes != original else { continue }
                    mutations += 1
                    guard let fast = EnvelopeHeader.readCanonical(bytes[...]) else { stepsAside += 1; continue }
                    let general = try? EnvelopeHeader(parsingAnyForm: bytes[...])
                    XCTAssertEqual(general, fast, "position \(position): \(String(decoding: bytes, as: UTF8.self))")
                }
            }
            // Truncations and extensions too.
            for cut in 0..<original.count {
                XCTAssertNil(EnvelopeHeader.readCanonical(original[..<cut]))
            }
            XCTAssertNil(EnvelopeHeader.readCanonical((original + [0x20])[...]))
        }
        XCTAssertGreaterThan(mutations, 10_000)
        XCTAssertGreaterThan(stepsAside, mutations / 2)
    }

    /// What the one-pass reader cannot see by bytes alone — a recipient without a key,
    /// a key for a center that is not a recipient, the sender among the recipients, a
    /// receipt inconsistent with its outcome — it refuses by the shared rules, and the
    /// general reader names the problem.
    func testRulesBetweenFieldsHoldInBothReaders() throws {
        let headers = Self.headers()
        let base = headers.first { $0.recipients.count == 2 && $0.ephemeral == nil }!   // to GE and UA
        let delivered = headers.first { $0.receipt?.outcome == .delivered }!
        var cases: [(EnvelopeHeader, String)] = []
        var missingKey = base
        missingKey.sealedKeys.removeValue(forKey: CenterID(rawValue: "UA")!)
        cases.append((missingKey, "keys.UA: missing"))
        var extraKey = base
        extraKey.sealedKeys[CenterID(rawValue: "TJ")!] = [UInt8](repeating: 1, count: Envelope.sealedKeyByteCount)
        cases.append((extraKey, "keys.TJ: unknown field"))
        var senderListed = base
        senderListed.recipients = [CenterID(rawValue: "AZ")!, CenterID(rawValue: "GE")!, CenterID(rawValue: "UA")!]
        senderListed.sealedKeys[CenterID(rawValue: "AZ")!] = [UInt8](repeating: 1, count: Envelope.sealedKeyByteCount)
        cases.append((senderListed, "recipients: contains the sender"))
        var noReason = headers.last { $0.receipt?.outcome == .refused }!
        noReason.receipt!.reason = nil
        cases.append((noReason, "a refusal names its reason"))
        var deliveredWithoutIndex = delivered
        deliveredWithoutIndex.receipt!.logIndex = nil
        cases.append((deliveredWithoutIndex, "has a logIndex and no reason"))
        var receiptToTwo = delivered
        receiptToTwo.recipients = [CenterID(rawValue: "AZ")!, CenterID(rawValue: "UA")!]
        cases.append((receiptToTwo, "a receipt goes to exactly one center"))
        var sealedBoxesUnderAnEphemeralKey = base
        sealedBoxesUnderAnEphemeralKey.ephemeral = [UInt8](repeating: 9, count: 32)
        cases.append((sealedBoxesUnderAnEphemeralKey, "keys.GE: expected 48 bytes"))
        var wrappedWithoutAnEphemeralKey = headers.first { $0.ephemeral != nil }!
        wrappedWithoutAnEphemeralKey.ephemeral = nil
        cases.append((wrappedWithoutAnEphemeralKey, "keys.GE: expected 80 bytes"))
        var shortEphemeralKey = headers.first { $0.ephemeral != nil }!
        shortEphemeralKey.ephemeral = [UInt8](repeating: 9, count: 31)
        cases.append((shortEphemeralKey, "ephemeral: expected 32 bytes"))
        var receiptWithAnEphemeralKey = delivered
        receiptWithAnEphemeralKey.ephemeral = [UInt8](repeating: 9, count: 32)
        cases.append((receiptWithAnEphemeralKey, "ephemeral: unknown field"))
        let batch = headers.first { $0.receiptBatch != nil }!
        var batchOfOne = batch
        batchOfOne.receiptBatch!.removeLast()
        cases.append((batchOfOne, "a batch has at least 2 receipts"))
        var batchWithARefusal = batch
        batchWithARefusal.receiptBatch![1] = Receipt(envelopeID: UUID(), envelopeSHA256: Self.sha, outcome: .refused, reason: .invalid)
        cases.append((batchWithARefusal, "receipts[1]: a batch carries delivery receipts only"))
        var batchNamingOneEnvelopeTwice = batch
        batchNamingOneEnvelopeTwice.receiptBatch![1].envelopeID = batch.receiptBatch![0].envelopeID
        cases.append((batchNamingOneEnvelopeTwice, "receipts[1]: envelope listed twice"))
        var batchWithoutAnIndex = batch
        batchWithoutAnIndex.receiptBatch![0].logIndex = nil
        cases.append((batchWithoutAnIndex, "has a logIndex and no reason"))
        var receiptAndBatch = batch
        receiptAndBatch.receipt = delivered.receipt
        cases.append((receiptAndBatch, "not both"))
        var oversizedBatch = batch
        oversizedBatch.receiptBatch = (0...Receipt.maximumBatch).map { Receipt(envelopeID: UUID(), envelopeSHA256: Self.sha, outcome: .delivered, logIndex: UInt64($0)) }
        cases.append((oversizedBatch, "receipts: \(Receipt.maximumBatch + 1) items; at most \(Receipt.maximumBatch)"))
        for (header, why) in cases {
            let bytes = header.canonicalBytes[...]
            XCTAssertNil(EnvelopeHeader.readCanonical(bytes), why)
            XCTAssertThrowsError(try EnvelopeHeader(parsing: bytes), why) { error in
                XCTAssertTrue("\(error)".contains(why), "expected \(why), got \(error)")
            }
        }
    }

    /// A `receipts` member that is not a list of receipt objects: the general reader names
    /// it, the one-pass reader steps aside.
    func testAReceiptsMemberOfTheWrongShapeIsNamed() throws {
        let batch = Self.headers().first { $0.receiptBatch != nil }!
        let text = String(decoding: batch.canonicalBytes, as: UTF8.self)
        let start = try XCTUnwrap(text.range(of: #""receipts":["#)).upperBound
        let end = try XCTUnwrap(text.range(of: #"],"recipients""#)).lowerBound
        for (replacement, why) in [("\"x\"", "receipts: expected an array"), ("[1,2]", "receipts[0]: expected an object"),
                                   ("[]", "a batch has at least 2 receipts")] {
            var wrong = text
            wrong.replaceSubrange(text.index(before: start)..<text.index(after: end), with: replacement)
            let bytes = Array(wrong.utf8)[...]
            XCTAssertNil(EnvelopeHeader.readCanonical(bytes), why)
            XCTAssertThrowsError(try EnvelopeHeader(parsing: bytes), why) { error in
                XCTAssertTrue("\(error)".contains(why), "expected \(why), got \(error)")
            }
        }
    }
}
