import Foundation
import IIASModel

/// What a receipt envelope says about the envelope it answers: "I, the recipient,
/// logged exactly these bytes at this index" (delivered), "I refused them, and why"
/// (refused), or "an operator of mine acknowledged them; the action is at this index of
/// my log" (acknowledged). Signed by the recipient, it is the sender's proof.
public struct Receipt: Sendable, Equatable {
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case delivered
        case refused
        /// An operator at the recipient acknowledged the notification (sent later than,
        /// and in addition to, the delivery receipt).
        case acknowledged
    }

    /// Why a recipient refused an envelope; stable names that a sender can act on.
    public enum RefusalReason: String, Sendable, Codable, CaseIterable {
        /// The recipient is not in the envelope's recipient list.
        case notARecipient = "not-a-recipient"
        /// The sender's certificate is unknown, expired, revoked or from another CA.
        case untrustedSender = "untrusted-sender"
        /// The signature does not verify.
        case badSignature = "bad-signature"
        /// The envelope or the notification inside is malformed or invalid.
        case invalid = "invalid"
        /// The envelope's time is outside the recipient's clock-skew bound.
        case clockSkew = "clock-skew"
        /// The envelope's sender is not the center the connection is authenticated as.
        case senderMismatch = "sender-mismatch"
    }

    public var envelopeID: UUID
    /// SHA-256 of the exact envelope bytes received.
    public var envelopeSHA256: [UInt8]
    public var outcome: Outcome
    /// The recipient's log index of the envelope (delivered) or of the refusal (if logged).
    public var logIndex: UInt64?
    public var reason: RefusalReason?
    /// Printable ASCII detail for a human, at most `maximumDetailLength` characters.
    public var detail: String?

    public static let maximumDetailLength = 200
    /// Most delivery receipts one receipt envelope carries (about 150 bytes each, so a
    /// full batch stays far below `Envelope.maximumHeaderBytes`).
    public static let maximumBatch = 256

    public init(envelopeID: UUID, envelopeSHA256: [UInt8], outcome: Outcome, logIndex: UInt64? = nil,
                reason: RefusalReason? = nil, detail: String? = nil) {
        self.envelopeID = envelopeID
        self.envelopeSHA256 = envelopeSHA256
        self.outcome = outcome
        self.logIndex = logIndex
        self.reason = reason
        self.detail = detail.map(Self.sanitize)
    }

    /// Keeps printable ASCII only and bounds the length, so that a detail can never
    /// smuggle control characters into a terminal or make headers non-canonical.
    static func sanitize(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.lazy.filter { $0.value >= 0x20 && $0.value < 0x7F }
            .prefix(maximumDetailLength)))
    }

    /// The receipt member of a canonical header: keys in order (detail, envelope,
    /// logIndex, outcome, reason, sha256).
    func writeCanonical(to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        if let detail {
            out.append(contentsOf: #""detail":"#.utf8)
            JSONWriter.write(string: detail, to: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: #""envelope":"#.utf8)
        JSONWriter.write(string: envelopeID.canonicalString, to: &out)
        if let logIndex {
            out.append(contentsOf: #","logIndex":"#.utf8)
            out.append(contentsOf: String(Int64(clamping: logIndex)).utf8)
        }
        out.append(contentsOf: #","outcome":"#.utf8)
        JSONWriter.write(string: outcome.rawValue, to: &out)
        if let reason {
            out.append(contentsOf: #","reason":"#.utf8)
            JSONWriter.write(string: reason.rawValue, to: &out)
        }
        out.append(contentsOf: #","sha256":"#.utf8)
        JSONWriter.write(string: envelopeSHA256.hexString, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    init(_ fields: HeaderFields) throws(EnvelopeError) {
        var fields = fields
        envelopeID = try fields.uuid("envelope")
        envelopeSHA256 = try fields.hex("sha256", count: SHA256.byteCount)
        let outcomeText = try fields.string("outcome")
        guard let outcome = Outcome(rawValue: outcomeText) else {
            throw .malformedHeader("receipt.outcome: unknown outcome \"\(outcomeText.prefix(32))\"")
        }
        self.outcome = outcome
        logIndex = try fields.optionalInteger("logIndex")
        if let text = try fields.optionalString("reason") {
            guard let reason = RefusalReason(rawValue: text) else {
                throw .malformedHeader("receipt.reason: unknown reason \"\(text.prefix(32))\"")
            }
            self.reason = reason
        }
        detail = try fields.optionalString("detail")
        try fields.requireNoOthers()
        try checkRules()
    }

    /// The rules between a receipt's fields, which both header readers apply.
    func checkRules() throws(EnvelopeError) {
        guard envelopeSHA256.count == SHA256.byteCount else { throw .malformedHeader("receipt.sha256: expected \(SHA256.byteCount) bytes") }
        if let logIndex, logIndex > 1 << 53 { throw .malformedHeader("receipt.logIndex: expected a non-negative integer") }
        if let detail, detail != Self.sanitize(detail) {
            throw .malformedHeader("receipt.detail: only printable ASCII, at most \(Self.maximumDetailLength) characters")
        }
        switch outcome {
        case .delivered, .acknowledged:
            guard logIndex != nil, reason == nil else {
                throw .malformedHeader("receipt: a \(outcome.rawValue) receipt has a logIndex and no reason")
            }
        case .refused:
            guard reason != nil else { throw .malformedHeader("receipt.reason: missing (a refusal names its reason)") }
        }
    }

    /// The rules of a batch (`EnvelopeHeader.receiptBatch`): 2 to `maximumBatch`
    /// delivery receipts, each for another envelope. One envelope's outcome has one
    /// encoding (a single receipt), and refusals and acknowledgements, which are rare and
    /// carry their own detail, always travel alone.
    static func checkBatchRules(_ batch: [Receipt]) throws(EnvelopeError) {
        guard batch.count >= 2 else { throw .malformedHeader("receipts: a batch has at least 2 receipts (one travels as receipt)") }
        guard batch.count <= maximumBatch else { throw .malformedHeader("receipts: \(batch.count) items; at most \(maximumBatch)") }
        var seen = Set<UUID>(minimumCapacity: batch.count)
        for (i, receipt) in batch.enumerated() {
            guard receipt.outcome == .delivered else {
                throw .malformedHeader("receipts[\(i)]: a batch carries delivery receipts only, not \(receipt.outcome.rawValue)")
            }
            try receipt.checkRules()
            guard seen.insert(receipt.envelopeID).inserted else { throw .malformedHeader("receipts[\(i)]: envelope listed twice") }
        }
    }
}
