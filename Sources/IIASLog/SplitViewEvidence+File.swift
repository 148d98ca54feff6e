import Foundation
import IIASCrypto

/// Split-view evidence as a file an auditor checks offline: JSON with the two notes as
/// the log signed them, `{"format": "iias-split-view/v1", "stored": NOTE, "received": NOTE}`,
/// and, when the two sizes differ, `"proof"`: the consistency proof the log gave, one
/// base64 hash per element, from the smaller tree to the larger.
extension SplitViewEvidence {
    /// The `format` value of an evidence file.
    public static let fileFormat = "iias-split-view/v1"

    private struct File: Codable {
        var format: String
        var stored: String
        var received: String
        var proof: [String]?
    }

    /// The evidence file's bytes (sorted keys, so the same evidence is the same file).
    public var fileBytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let file = File(format: Self.fileFormat, stored: stored.text, received: received.text,
                        proof: proof.map { $0.map { Data($0).base64EncodedString() } })
        return Array((try? encoder.encode(file)) ?? Data())
    }

    /// Reads an evidence file (nothing verified yet: see ``verify(logKeys:)``).
    public init(file bytes: [UInt8]) throws(SplitViewError) {
        guard bytes.count <= WitnessFolder.maximumFileBytes,
              let file = try? JSONDecoder().decode(File.self, from: Data(bytes)), file.format == Self.fileFormat else {
            throw .malformed("not a \(Self.fileFormat) JSON file")
        }
        var proof: [[UInt8]]?
        if let lines = file.proof {
            guard lines.count <= AddCheckpointRequest.maximumProofLines else { throw .malformed("more than \(AddCheckpointRequest.maximumProofLines) proof hashes") }
            proof = try lines.map { line throws(SplitViewError) in
                guard let hash = Data(base64Encoded: line), hash.count == 32 else { throw .malformed("a proof hash that is not 32 bytes of base64") }
                return Array(hash)
            }
        }
        do { self.init(stored: try SignedNote(parsing: file.stored), received: try SignedNote(parsing: file.received), proof: proof) } catch {
            throw .malformed("\(error)")
        }
    }

    /// The origin the two notes claim, read from the received one (nothing verified).
    public var origin: String? { try? received.checkpoint().origin }

    /// Checks that the two notes prove the log showed two histories, each note signed under
    /// the origin's name by one of `logKeys` (the log's signing keys, current or earlier),
    /// both of one origin and either
    /// - of one size with different roots (a split view: nothing more is needed), or
    /// - of two sizes, with the consistency proof the log gave not showing the smaller tree
    ///   a prefix of the larger (``SplitViewEvidence/Kind/notConsistent``). A log that
    ///   forked cannot make a proof that verifies; one that did not can refute this by
    ///   giving one (`iias log consistency`).
    /// Returns the two checkpoints and which kind of evidence it is.
    @discardableResult
    public func verify(logKeys: [SigningPublicKey]) throws(SplitViewError) -> (stored: Checkpoint, received: Checkpoint, kind: Kind) {
        let first: Checkpoint, second: Checkpoint
        do { (first, second) = (try stored.checkpoint(), try received.checkpoint()) } catch { throw .malformed("\(error)") }
        guard first.origin == second.origin else { throw .notAContradiction("the origins differ: \(first.origin), \(second.origin)") }
        let kind: Kind
        if first.treeSize == second.treeSize {
            guard first.rootHash != second.rootHash else { throw .notAContradiction("both notes have the same root") }
            guard proof == nil else { throw .malformed("a proof with two notes of one size") }
            kind = .sameSize
        } else {
            guard let proof else { throw .notAContradiction("the sizes differ (\(first.treeSize), \(second.treeSize)) and no proof was kept") }
            let (small, large) = first.treeSize < second.treeSize ? (first, second) : (second, first)
            guard !Merkle.verifyConsistency(firstSize: small.treeSize, secondSize: large.treeSize, firstRoot: small.rootHash,
                                            secondRoot: large.rootHash, proof: proof) else {
                throw .notAContradiction("the proof shows the tree of size \(small.treeSize) a prefix of the tree of size \(large.treeSize)")
            }
            kind = .notConsistent
        }
        for (which, note) in [("stored", stored), ("received", received)] {
            let checks = logKeys.compactMap { Checkpoint.signatureCheck(of: note, name: first.origin, publicKey: $0) }
            guard !checks.isEmpty, !checks.contains(false) else { throw .notSignedByTheLog(which: which, origin: first.origin) }
        }
        return (first, second, kind)
    }
}

/// Why an evidence file proves nothing.
public enum SplitViewError: Error, Equatable, CustomStringConvertible {
    /// Not an evidence file, or a note in it is not a checkpoint.
    case malformed(String)
    /// The notes do not contradict each other (origin, size or root, or a proof that verifies).
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
