import Foundation
import IIASModel

/// Two envelopes one sender signed under one envelope id with different bytes: proof that
/// the sender told its recipients different things under one name. Anyone holding the
/// sender's certificate checks both signatures (no content key needed), so the evidence
/// needs no trust in the node that found it.
///
/// As a file: JSON `{"format": "iias-equivocation/v1", "first": BASE64, "second": BASE64}`,
/// the envelopes' exact bytes.
public struct EquivocationEvidence: Sendable, Equatable {
    /// The `format` value of an evidence file.
    public static let fileFormat = "iias-equivocation/v1"

    /// The envelope the finding node logged.
    public let first: [UInt8]
    /// The contradicting envelope a co-recipient logged.
    public let second: [UInt8]

    public init(first: [UInt8], second: [UInt8]) {
        self.first = first
        self.second = second
    }

    /// The evidence file's bytes (sorted keys: the same evidence is the same file).
    public var fileBytes: [UInt8] {
        let fields = ["format": Self.fileFormat, "first": Data(first).base64EncodedString(), "second": Data(second).base64EncodedString()]
        return Array((try? JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data())
    }

    /// Reads an evidence file (nothing verified yet: see ``verify(with:)``).
    public init(file bytes: [UInt8]) throws(EquivocationError) {
        let fields = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
        guard fields?["format"] as? String == Self.fileFormat, let first = (fields?["first"] as? String).flatMap({ Data(base64Encoded: $0) }),
              let second = (fields?["second"] as? String).flatMap({ Data(base64Encoded: $0) }) else {
            throw EquivocationError(.malformed, "not a \(Self.fileFormat) JSON file with two base64 envelopes")
        }
        self.init(first: Array(first), second: Array(second))
    }

    /// Checks that the two envelopes prove an equivocation: both parse, name one sender and
    /// one id, differ in their bytes, and each carries a valid signature by a signing key the
    /// CA issued to that sender (a later revocation does not unsign what the key signed).
    /// Returns the sender and the id.
    @discardableResult
    public func verify(with verifier: EnvelopeVerifier) throws(EquivocationError) -> (sender: CenterID, id: UUID) {
        let one: Envelope, two: Envelope
        do { (one, two) = (try Envelope(parsing: first), try Envelope(parsing: second)) } catch { throw EquivocationError(.malformed, "\(error)") }
        guard one.header.sender == two.header.sender else {
            throw EquivocationError(.notAContradiction, "the senders differ: \(one.header.sender), \(two.header.sender)")
        }
        guard one.id == two.id else { throw EquivocationError(.notAContradiction, "the envelope ids differ") }
        guard first != second else { throw EquivocationError(.notAContradiction, "both envelopes are the same bytes") }
        for (which, envelope) in [("first", one), ("second", two)] {
            do { _ = try verifier.verifyStored(envelope) } catch {
                throw EquivocationError(.notSignedBySender, "the \(which) envelope has no valid signature by \(one.header.sender): \(error)")
            }
        }
        return (one.header.sender, one.id)
    }
}

/// Why an equivocation evidence file proves nothing: the kind, and the detail that names
/// what failed.
public struct EquivocationError: Error, Equatable, CustomStringConvertible {
    /// What failed, in the words `iias audit equivocation` prints first.
    public enum Kind: String, Sendable {
        /// Not an evidence file, or an envelope in it does not parse.
        case malformed = "malformed equivocation evidence"
        /// The envelopes do not contradict each other (sender, id or bytes).
        case notAContradiction = "not an equivocation"
        /// An envelope carries no valid signature by a key the CA issued to its sender.
        case notSignedBySender = "not signed by its sender"
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
