import Foundation
import IIASCrypto

/// A C2SP tlog-proof bundle (https://c2sp.org/tlog-proof, `c2sp.org/tlog-proof@v1`): an
/// entry's index, its RFC 6962 inclusion proof and the cosigned checkpoint it ends in, in one
/// text file that anyone holding a ``TlogPolicy`` checks offline. It exists so that a proof of
/// delivery is a standard object other tools read, not a format of this program's own.
///
/// ```
/// c2sp.org/tlog-proof@v1
/// extra BASE64(opaque)          (optional)
/// index DECIMAL
/// BASE64(hash)                  (zero or more, leaf's sibling first)
///
/// CHECKPOINT NOTE, verbatim, cosignature lines included
/// ```
public struct TlogProof: Sendable, Equatable {
    /// The bundle's first line.
    public static let header = "c2sp.org/tlog-proof@v1"
    /// Largest bundle read: a note of at most 64 KiB, 63 hashes and an extra line.
    public static let maximumBytes = SignedNote.maximumBytes + 16 * 1024
    /// At most this many proof hashes (a tree of 2^63 leaves needs 63).
    public static let maximumProofHashes = 63

    /// Opaque, unauthenticated data the application needs to rebuild the leaf (nil: no line).
    public var extra: [UInt8]?
    public var index: UInt64
    /// The inclusion proof, from the leaf's sibling up to the root's child.
    public var proof: [[UInt8]]
    /// The checkpoint as the log signed it, with its cosignatures.
    public var checkpoint: SignedNote

    public init(extra: [UInt8]?, index: UInt64, proof: [[UInt8]], checkpoint: SignedNote) {
        self.extra = extra
        self.index = index
        self.proof = proof
        self.checkpoint = checkpoint
    }

    /// The bundle as text, byte for byte as the specification writes it.
    public var text: String {
        var out = Self.header + "\n"
        if let extra { out += "extra \(Data(extra).base64EncodedString())\n" }
        out += "index \(index)\n"
        for hash in proof { out += Data(hash).base64EncodedString() + "\n" }
        return out + "\n" + checkpoint.text
    }

    /// Reads a bundle; the size is checked before anything else.
    public init(parsing text: String) throws(LogProofError) {
        guard text.utf8.count <= Self.maximumBytes else { throw .malformed("larger than \(Self.maximumBytes) bytes") }
        guard let blank = text.range(of: "\n\n") else { throw .malformed("no empty line before the checkpoint") }
        var lines = text[..<blank.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)[...]
        guard lines.popFirst() == Substring(Self.header) else { throw .malformed("the first line is not \(Self.header)") }
        if let line = lines.first, line.hasPrefix("extra ") {
            guard let bytes = Data(base64Encoded: String(line.dropFirst(6))) else { throw .malformed("the extra line is not base64") }
            extra = Array(bytes)
            lines.removeFirst()
        } else {
            extra = nil
        }
        guard let indexLine = lines.popFirst(), indexLine.hasPrefix("index "),
              let index = UInt64(indexLine.dropFirst(6)), String(index) == indexLine.dropFirst(6) else {
            throw .malformed("no \"index N\" line (decimal, no leading zeros)")
        }
        self.index = index
        guard lines.count <= Self.maximumProofHashes else { throw .malformed("more than \(Self.maximumProofHashes) proof hashes") }
        proof = try lines.map { line throws(LogProofError) in
            guard let hash = Data(base64Encoded: String(line)), hash.count == SHA256.byteCount else {
                throw .malformed("a proof line is not base64 of a 32-byte hash")
            }
            return Array(hash)
        }
        do {
            checkpoint = try SignedNote(parsing: String(text[blank.upperBound...]))
        } catch {
            throw .malformed("the checkpoint: \(error)")
        }
    }

    /// What a checked bundle established.
    public struct Verified: Sendable, Equatable {
        public var checkpoint: Checkpoint
        /// The policy's names of the witnesses whose cosignatures verified, and their times.
        public var cosignatures: [(witness: String, timestamp: UInt64)]
        /// By the clocks of witnesses meeting the policy's quorum, the entry was logged no
        /// later than this (POSIX seconds; ``TlogPolicy/attestedTime(of:)``); nil when no
        /// witness cosigned.
        public var loggedNoLaterThan: UInt64?

        public static func == (a: Verified, b: Verified) -> Bool {
            a.checkpoint == b.checkpoint && a.cosignatures.map(\.witness) == b.cosignatures.map(\.witness)
                && a.cosignatures.map(\.timestamp) == b.cosignatures.map(\.timestamp)
        }
    }

    /// Checks the bundle as tlog-proof asks: the checkpoint signed by a log of `policy`
    /// for its origin, the cosignatures of the policy's witnesses meeting its quorum, and
    /// the inclusion proof binding `leafHash` at ``index`` to the checkpoint's root.
    public func verify(leafHash: [UInt8], policy: TlogPolicy,
                       options: Cosignature.VerifyOptions = Cosignature.VerifyOptions()) throws(LogProofError) -> Verified {
        let (head, cosignatures) = try policy.verify(checkpoint, options: options)
        try verifyInclusion(leafHash: leafHash, in: head)
        return Verified(checkpoint: head, cosignatures: cosignatures, loggedNoLaterThan: policy.attestedTime(of: cosignatures))
    }

    /// The inclusion proof alone, against a checkpoint already verified (bundles of one
    /// batch share their checkpoint: its signatures are checked once for all of them).
    public func verifyInclusion(leafHash: [UInt8], in head: Checkpoint) throws(LogProofError) {
        guard index < head.treeSize else { throw .invalid("index \(index) is not below the tree size \(head.treeSize)") }
        guard Merkle.verifyInclusion(leafIndex: index, treeSize: head.treeSize, leafHash: leafHash, proof: proof, root: head.rootHash) else {
            throw .invalid("the inclusion proof does not bind entry \(index) to the root of the tree of size \(head.treeSize)")
        }
    }
}
