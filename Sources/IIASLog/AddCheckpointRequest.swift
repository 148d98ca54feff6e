import Foundation
import IIASCrypto

/// What a log asks a witness to cosign, in the C2SP tlog-witness add-checkpoint body
/// (https://c2sp.org/tlog-witness): "old SIZE\n", at most 63 consistency proof lines
/// (one base64 hash each), an empty line, then the new checkpoint's signed note. The
/// proof leads from the tree the witness last cosigned (of size `oldSize`) to the new one.
public struct AddCheckpointRequest: Sendable, Equatable {
    public var oldSize: UInt64
    public var proof: [[UInt8]]
    public var note: SignedNote
    /// The note's body read as a checkpoint.
    public let checkpoint: Checkpoint

    /// A consistency proof between trees of fewer than 2^64 leaves has at most 63 hashes.
    public static let maximumProofLines = 63

    public init(oldSize: UInt64, proof: [[UInt8]], note: SignedNote) throws(WitnessRefusal) {
        guard proof.count <= Self.maximumProofLines else { throw .tooManyProofLines(proof.count) }
        do { checkpoint = try note.checkpoint() } catch { throw .malformedRequest("\(error)") }
        self.oldSize = oldSize
        self.proof = proof
        self.note = note
    }

    /// Reads a request body; each refusal is one the specification answers with 400.
    public init(parsing text: String) throws(WitnessRefusal) {
        guard let split = text.range(of: "\n\n") else { throw .malformedRequest("no empty line before the checkpoint") }
        let noteText = String(text[split.upperBound...])
        guard noteText.utf8.count <= SignedNote.maximumBytes else { throw .oversizeNote(noteText.utf8.count) }
        let lines = text[..<split.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
        let oldLine = lines[0]
        guard oldLine.hasPrefix("old "), let old = UInt64(oldLine.dropFirst(4)), String(old) == oldLine.dropFirst(4) else {
            throw .malformedRequest("the first line is not \"old SIZE\" in decimal without leading zeros")
        }
        guard lines.count - 1 <= Self.maximumProofLines else { throw .tooManyProofLines(lines.count - 1) }
        var proof: [[UInt8]] = []
        for line in lines.dropFirst() {
            guard let hash = Data(base64Encoded: String(line)), hash.count == SHA256.byteCount else {
                throw .malformedRequest("a proof line is not the base64 of a 32-byte hash")
            }
            proof.append(Array(hash))
        }
        let note: SignedNote
        do { note = try SignedNote(parsing: noteText) } catch { throw .malformedRequest("\(error)") }
        try self.init(oldSize: old, proof: proof, note: note)
    }

    /// The request body.
    public var text: String {
        "old \(oldSize)\n" + proof.map { Data($0).base64EncodedString() + "\n" }.joined() + "\n" + note.text
    }
}

/// Why a witness will not cosign, with the HTTP status the C2SP tlog-witness
/// specification gives each (the status a peer frame will carry).
public enum WitnessRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// The body is not an add-checkpoint request (400).
    case malformedRequest(String)
    /// The checkpoint note is larger than 64 KiB (400).
    case oversizeNote(Int)
    /// More than 63 proof lines (400).
    case tooManyProofLines(Int)
    /// No key is known for this origin (404).
    case unknownOrigin(String)
    /// No signature line by a trusted key of the origin (403).
    case noLogSignature(String)
    /// A line names a trusted key of the origin but does not verify (403).
    case badLogSignature(String)
    /// The old size is larger than the new checkpoint's (400).
    case oldSizeAboveNewSize(old: UInt64, new: UInt64)
    /// A checkpoint of size 0 whose root is not the empty tree's (422).
    case emptyTreeRoot
    /// Proof lines sent from an old size of 0, where none is needed (422).
    case proofFromEmptyTree
    /// The proof does not show the stored tree to be a prefix of the new one (422).
    case notConsistent(old: UInt64, new: UInt64)
    /// The caller handed the state of another log (500: a fault of the witness itself).
    case storedStateOfAnotherOrigin(stored: String, requested: String)
    /// The witness's clock is before its last cosignature of this log, or outside
    /// 1...2^63 − 1 (500): a cosignature's time must not go back.
    case clockNotUsable(now: UInt64, lastCosigned: UInt64?)

    public var statusCode: Int {
        switch self {
        case .malformedRequest, .oversizeNote, .tooManyProofLines, .oldSizeAboveNewSize: 400
        case .noLogSignature, .badLogSignature: 403
        case .unknownOrigin: 404
        case .emptyTreeRoot, .proofFromEmptyTree, .notConsistent: 422
        case .storedStateOfAnotherOrigin, .clockNotUsable: 500
        }
    }

    public var description: String {
        switch self {
        case let .malformedRequest(why): "malformed add-checkpoint request: \(why)"
        case let .oversizeNote(bytes): "the checkpoint note is \(bytes) bytes, more than 64 KiB"
        case let .tooManyProofLines(count): "\(count) consistency proof lines, more than 63"
        case let .unknownOrigin(origin): "no log key is known for the origin \(origin)"
        case let .noLogSignature(origin): "no signature by a known key of \(origin)"
        case let .badLogSignature(origin): "a signature by a known key of \(origin) does not verify"
        case let .oldSizeAboveNewSize(old, new): "old size \(old) is above the checkpoint's size \(new)"
        case .emptyTreeRoot: "a checkpoint of size 0 must have the empty tree's root"
        case .proofFromEmptyTree: "from old size 0 the consistency proof must be empty"
        case let .notConsistent(old, new): "the tree of size \(old) is not shown to be a prefix of the tree of size \(new)"
        case let .storedStateOfAnotherOrigin(stored, requested): "the stored state is of \(stored), the request of \(requested)"
        case let .clockNotUsable(now, last): "the clock reads \(now)\(last.map { ", before the last cosignature at \($0)" } ?? ", outside 1...2^63-1")"
        }
    }
}
