import Foundation
import IIASModel

extension EnvelopeHeader {
    /// Reads a header that is in its one canonical form — members in key order, no
    /// whitespace, strings without escapes — in a single pass, without a JSON tree:
    /// every envelope a node receives and every entry an auditor checks is parsed, and
    /// the general reader's dictionaries cost more than the rest of the parse.
    ///
    /// It can only accept what the general reader (`init(parsingAnyForm:)`) accepts: it
    /// applies the same rules between fields (`checkRules`), and what it read must
    /// re-encode to exactly the given bytes, so any byte it misread would fail that
    /// comparison. Anything it does not accept is nil, and the general reader then
    /// either names what is wrong or accepts a rarer form (an escaped receipt detail).
    package static func readCanonical(_ bytes: ArraySlice<UInt8>) -> EnvelopeHeader? {
        var reader = CanonicalReader(bytes)
        guard reader.take(#"{"created":"#), let createdText = reader.string(), let created = Timestamp.parse(createdText) else { return nil }
        var ephemeral: [UInt8]?
        if reader.take(#","ephemeral":"#) {
            guard let value = reader.base64(count: EncryptionPublicKey.byteCount) else { return nil }
            ephemeral = value
        }
        guard reader.take(#","id":"#), let idText = reader.string(), let id = UUID(canonical: idText) else { return nil }
        var sealed: [CenterID: [UInt8]] = [:]
        if reader.take(#","keys":{"#) {
            repeat {
                guard sealed.count < Envelope.maximumRecipients, let center = reader.center(), reader.take(":"),
                      let key = reader.base64(count: Envelope.contentKeyFieldByteCount(ephemeral: ephemeral)),
                      sealed.updateValue(key, forKey: center) == nil else { return nil }
            } while reader.take(",")
            guard reader.take("}") else { return nil }
        }
        guard reader.take(#","kind":"#), let kind = reader.string().flatMap(Kind.init(rawValue:)) else { return nil }
        var nonce: [UInt8]?
        if reader.take(#","nonce":"#) {
            guard let value = reader.base64(count: XChaCha20Poly1305.nonceByteCount) else { return nil }
            nonce = value
        }
        var receipt: Receipt?
        if reader.take(#","receipt":"#) {
            guard let value = reader.receipt() else { return nil }
            receipt = value
        }
        var receiptBatch: [Receipt]?
        if reader.take(#","receipts":["#) {
            var list: [Receipt] = []
            repeat {
                guard list.count < Receipt.maximumBatch, let value = reader.receipt() else { return nil }
                list.append(value)
            } while reader.take(",")
            guard reader.take("]") else { return nil }
            receiptBatch = list
        }
        guard reader.take(#","recipients":["#) else { return nil }
        var recipients: [CenterID] = []
        repeat {
            guard recipients.count < Envelope.maximumRecipients, let center = reader.center() else { return nil }
            recipients.append(center)
        } while reader.take(",")
        guard reader.take(#"],"sender":"#), let sender = reader.center() else { return nil }
        var signer: [UInt8]?
        if reader.take(#","signer":"#) {
            guard let hex = reader.string(), let value = [UInt8](hexString: hex), value.count == SHA256.byteCount else { return nil }
            signer = value
        }
        guard reader.take("}"), reader.isAtEnd else { return nil }
        let header = EnvelopeHeader(id: id, kind: kind, sender: sender, recipients: recipients, created: created,
                                    nonce: nonce, ephemeral: ephemeral, sealedKeys: sealed, receipt: receipt,
                                    receiptBatch: receiptBatch, signer: signer)
        guard (try? header.checkRules()) != nil, header.canonicalBytes.withUnsafeBytes({ encoded in
            bytes.withUnsafeBytes { given in encoded.count == given.count && memcmp(encoded.baseAddress!, given.baseAddress!, given.count) == 0 }
        }) else { return nil }
        return header
    }
}

/// A cursor over canonical JSON that matches expected bytes and reads plain values;
/// every method returns false or nil, leaving the decision to the caller, on anything
/// unexpected.
private struct CanonicalReader {
    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    var isAtEnd: Bool { index == bytes.endIndex }

    /// Consumes `text` when the bytes continue with it.
    mutating func take(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.endIndex - index >= count else { return false }
        let matches = text.withUTF8Buffer { expected in
            bytes[index..<(index + count)].elementsEqual(expected)
        }
        if matches { index += count }
        return matches
    }

    /// A quoted string of printable ASCII without escapes (all a canonical header's
    /// strings but a receipt's detail with a quote or backslash in it).
    mutating func string() -> String? {
        guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var end = start
        while end < bytes.endIndex {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") { break }
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
            end += 1
        }
        guard end < bytes.endIndex else { return nil }
        index = end + 1
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    mutating func center() -> CenterID? { string().flatMap(CenterID.init(rawValue:)) }

    mutating func base64(count: Int) -> [UInt8]? {
        guard let text = string(), let data = Data(base64Encoded: text), data.count == count else { return nil }
        return [UInt8](data)
    }

    /// Decimal digits, at most 16 of them (2^53 has 16).
    mutating func integer() -> UInt64? {
        var value: UInt64 = 0
        let start = index
        while index < bytes.endIndex, index - start < 17, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            value = value * 10 + UInt64(bytes[index] - 0x30)
            index += 1
        }
        return index > start && index - start <= 16 ? value : nil
    }

    /// A receipt member, keys in order: detail, envelope, logIndex, outcome, reason, sha256.
    mutating func receipt() -> Receipt? {
        guard take("{") else { return nil }
        var detail: String?
        if take(#""detail":"#) {
            guard let text = string(), take(",") else { return nil }
            detail = text
        }
        guard take(#""envelope":"#), let envelope = string().flatMap(UUID.init(canonical:)) else { return nil }
        var logIndex: UInt64?
        if take(#","logIndex":"#) {
            guard let value = integer() else { return nil }
            logIndex = value
        }
        guard take(#","outcome":"#), let outcome = string().flatMap(Receipt.Outcome.init(rawValue:)) else { return nil }
        var reason: Receipt.RefusalReason?
        if take(#","reason":"#) {
            guard let value = string().flatMap(Receipt.RefusalReason.init(rawValue:)) else { return nil }
            reason = value
        }
        guard take(#","sha256":"#), let hex = string(), let sha256 = [UInt8](hexString: hex), take("}") else { return nil }
        return Receipt(envelopeID: envelope, envelopeSHA256: sha256, outcome: outcome, logIndex: logIndex,
                       reason: reason, detail: detail)
    }
}
