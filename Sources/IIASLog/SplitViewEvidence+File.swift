import Foundation
import IIASCrypto

/// Split-view evidence as a file an auditor checks offline: JSON with the two notes as
/// the log signed them, `{"format": "iias-split-view/v1", "stored": NOTE, "received": NOTE}`.
extension SplitViewEvidence {
    /// The `format` value of an evidence file.
    public static let fileFormat = "iias-split-view/v1"

    private struct File: Codable {
        var format: String
        var stored: String
        var received: String
    }

    /// The evidence file's bytes (sorted keys, so the same evidence is the same file).
    public var fileBytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(File(format: Self.fileFormat, stored: stored.text, received: received.text))) ?? Data())
    }

    /// Reads an evidence file (nothing verified yet: see ``verify(logKeys:)``).
    public init(file bytes: [UInt8]) throws(SplitViewError) {
        guard let file = try? JSONDecoder().decode(File.self, from: Data(bytes)), file.format == Self.fileFormat else {
            throw .malformed("not a \(Self.fileFormat) JSON file")
        }
        do { self.init(stored: try SignedNote(parsing: file.stored), received: try SignedNote(parsing: file.received)) } catch {
            throw .malformed("\(error)")
        }
    }

    /// The origin the two notes claim, read from the received one (nothing verified).
    public var origin: String? { try? received.checkpoint().origin }

    /// Checks that the two notes prove a split view: both checkpoints of one origin and
    /// one size with different roots, each signed under the origin's name by one of
    /// `logKeys` (the log's signing keys, current or earlier). Returns the two checkpoints.
    @discardableResult
    public func verify(logKeys: [SigningPublicKey]) throws(SplitViewError) -> (stored: Checkpoint, received: Checkpoint) {
        let first: Checkpoint, second: Checkpoint
        do { (first, second) = (try stored.checkpoint(), try received.checkpoint()) } catch { throw .malformed("\(error)") }
        guard first.origin == second.origin else { throw .notAContradiction("the origins differ: \(first.origin), \(second.origin)") }
        guard first.treeSize == second.treeSize else {
            throw .notAContradiction("the sizes differ: \(first.treeSize), \(second.treeSize)")
        }
        guard first.rootHash != second.rootHash else { throw .notAContradiction("both notes have the same root") }
        for (which, note) in [("stored", stored), ("received", received)] {
            let checks = logKeys.compactMap { Checkpoint.signatureCheck(of: note, name: first.origin, publicKey: $0) }
            guard !checks.isEmpty, !checks.contains(false) else { throw .notSignedByTheLog(which: which, origin: first.origin) }
        }
        return (first, second)
    }
}

/// Why an evidence file proves nothing.
public enum SplitViewError: Error, Equatable, CustomStringConvertible {
    /// Not an evidence file, or a note in it is not a checkpoint.
    case malformed(String)
    /// The notes do not contradict each other (origin, size or root).
    case notAContradiction(String)
    /// A note carries no valid signature by the log's keys.
    case notSignedByTheLog(which: String, origin: String)

    public var description: String {
        switch self {
        case let .malformed(why): "malformed split-view evidence: \(why)"
        case let .notAContradiction(why): "not a split view: \(why)"
        case let .notSignedByTheLog(which, origin): "the \(which) note has no valid signature by \(origin)'s key"
        }
    }
}
