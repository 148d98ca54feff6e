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

    private struct File: Codable {
        var format: String
        var first: String
        var second: String
    }

    /// The evidence file's bytes (sorted keys: the same evidence is the same file).
    public var fileBytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let file = File(format: Self.fileFormat, first: Data(first).base64EncodedString(), second: Data(second).base64EncodedString())
        return Array((try? encoder.encode(file)) ?? Data())
    }

    /// Reads an evidence file (nothing verified yet: see ``verify(with:)``).
    public init(file bytes: [UInt8]) throws(EquivocationError) {
        guard let file = try? JSONDecoder().decode(File.self, from: Data(bytes)), file.format == Self.fileFormat,
              let first = Data(base64Encoded: file.first), let second = Data(base64Encoded: file.second) else {
            throw .malformed("not a \(Self.fileFormat) JSON file with two base64 envelopes")
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
        do { (one, two) = (try Envelope(parsing: first), try Envelope(parsing: second)) } catch { throw .malformed("\(error)") }
        guard one.header.sender == two.header.sender else {
            throw .notAContradiction("the senders differ: \(one.header.sender), \(two.header.sender)")
        }
        guard one.id == two.id else { throw .notAContradiction("the envelope ids differ") }
        guard first != second else { throw .notAContradiction("both envelopes are the same bytes") }
        for (which, envelope) in [("first", one), ("second", two)] {
            do { _ = try verifier.verifyStored(envelope) } catch {
                throw .notSignedBySender(which: which, sender: one.header.sender, why: "\(error)")
            }
        }
        return (one.header.sender, one.id)
    }
}

/// Why an equivocation evidence file proves nothing.
public enum EquivocationError: Error, Equatable, CustomStringConvertible {
    /// Not an evidence file, or an envelope in it does not parse.
    case malformed(String)
    /// The envelopes do not contradict each other (sender, id or bytes).
    case notAContradiction(String)
    /// An envelope carries no valid signature by a key the CA issued to its sender.
    case notSignedBySender(which: String, sender: CenterID, why: String)

    public var description: String {
        switch self {
        case let .malformed(why): "malformed equivocation evidence: \(why)"
        case let .notAContradiction(why): "not an equivocation: \(why)"
        case let .notSignedBySender(which, sender, why): "the \(which) envelope has no valid signature by \(sender): \(why)"
        }
    }
}
