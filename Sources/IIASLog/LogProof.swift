import Foundation
import IIASCrypto

/// A proof an auditor checks offline, with the signer's certificate and nothing else:
/// the signed tree head(s) it is checked against travel inside it.
///
/// - inclusion: the entry (hex) is leaf `leafIndex` of the tree that `checkpoint` signs.
/// - consistency: the tree `firstCheckpoint` signs is a prefix of the tree `checkpoint`
///   signs (RFC 9162 §2.1.4), so the log was only appended to between the two.
public struct LogProof: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case inclusion, consistency }

    public var kind: Kind
    /// The center whose log this is and whose signing key signed the checkpoints (under the
    /// origin "iias:center:SIGNER/log"; proofs made before, under the bare center id).
    public var signer: String
    /// The signed note (C2SP tlog-checkpoint) of the tree the proof ends in.
    public var checkpoint: String
    /// inclusion: the leaf's index and the entry bytes (hex) whose leaf hash is proven.
    public var leafIndex: UInt64?
    public var entry: String?
    /// consistency: the signed note of the earlier tree.
    public var firstCheckpoint: String?
    /// The proof's hashes, hex, in RFC 9162 order.
    public var path: [String]

    /// The largest proof document accepted, checked before it is parsed.
    public static let maximumSize = 1 << 20

    public init(kind: Kind, signer: String, checkpoint: String, leafIndex: UInt64? = nil,
                entry: String? = nil, firstCheckpoint: String? = nil, path: [String]) {
        self.kind = kind
        self.signer = signer
        self.checkpoint = checkpoint
        self.leafIndex = leafIndex
        self.entry = entry
        self.firstCheckpoint = firstCheckpoint
        self.path = path
    }

    /// Proves that entry `index` is in the tree of size `treeSize`, signing that tree head
    /// under the origin of the log's `epoch` (see ``Checkpoint/origin(center:epoch:)``).
    public static func inclusion(in log: LogStore, index: UInt64, treeSize: UInt64,
                                 signer: String, key: SigningPrivateKey, epoch: Int = 1) throws -> LogProof {
        let tree = try log.merkleTree()
        guard treeSize <= tree.treeSize else { throw LogProofError.outOfRange("tree size \(treeSize) > log size \(tree.treeSize)") }
        guard index < treeSize else { throw LogProofError.outOfRange("index \(index) is not below tree size \(treeSize)") }
        let entry = try log.entry(at: index).encoded()
        let head = Checkpoint(origin: Checkpoint.origin(center: signer, epoch: epoch), treeSize: treeSize,
                              rootHash: try tree.rootHash(treeSize: treeSize))
        return LogProof(kind: .inclusion, signer: signer, checkpoint: head.signedNote(key: key),
                        leafIndex: index, entry: entry.hexString,
                        path: try tree.inclusionProof(leafIndex: index, treeSize: treeSize).map(\.hexString))
    }

    /// Proves that the tree of size `first` is a prefix of the tree of size `second`.
    public static func consistency(in log: LogStore, from first: UInt64, to second: UInt64,
                                   signer: String, key: SigningPrivateKey, epoch: Int = 1) throws -> LogProof {
        let tree = try log.merkleTree()
        guard first <= second, second <= tree.treeSize else {
            throw LogProofError.outOfRange("need 0 ≤ from ≤ to ≤ \(tree.treeSize), got \(first) and \(second)")
        }
        func head(_ size: UInt64) throws -> String {
            Checkpoint(origin: Checkpoint.origin(center: signer, epoch: epoch), treeSize: size,
                       rootHash: try tree.rootHash(treeSize: size)).signedNote(key: key)
        }
        return LogProof(kind: .consistency, signer: signer, checkpoint: try head(second),
                        firstCheckpoint: try head(first),
                        path: try tree.consistencyProof(from: first, to: second).map(\.hexString))
    }

    /// Checks the signature(s) with `publicKey`, then the proof. Returns the signed tree head.
    @discardableResult
    public func verify(publicKey: SigningPublicKey) throws -> Checkpoint {
        let head = try Checkpoint.verify(note: checkpoint, logOf: signer, publicKey: publicKey)
        guard Checkpoint.logOrigin(head.origin)?.center == signer else {
            throw LogProofError.invalid("the checkpoint's origin \(head.origin) is not \(signer)'s log")
        }
        let hashes = try path.map { hex in
            guard let bytes = [UInt8](hexString: hex), bytes.count == SHA256.byteCount else {
                throw LogProofError.malformed("a path element is not a 32-byte hex hash")
            }
            return bytes
        }
        switch kind {
        case .inclusion:
            guard let leafIndex, let entry, let entryBytes = [UInt8](hexString: entry) else {
                throw LogProofError.malformed("an inclusion proof needs leafIndex and entry (hex)")
            }
            guard Merkle.verifyInclusion(leafIndex: leafIndex, treeSize: head.treeSize,
                                         leafHash: Merkle.hashLeaf(entryBytes), proof: hashes, root: head.rootHash) else {
                throw LogProofError.invalid("entry \(leafIndex) is not in the signed tree of size \(head.treeSize)")
            }
        case .consistency:
            guard let firstCheckpoint else { throw LogProofError.malformed("a consistency proof needs firstCheckpoint") }
            let first = try Checkpoint.verify(note: firstCheckpoint, logOf: signer, publicKey: publicKey)
            guard first.origin == head.origin else { throw LogProofError.invalid("the two checkpoints name different logs") }
            guard Merkle.verifyConsistency(firstSize: first.treeSize, secondSize: head.treeSize, firstRoot: first.rootHash,
                                           secondRoot: head.rootHash, proof: hashes) else {
                throw LogProofError.invalid("the tree of size \(first.treeSize) is not a prefix of the tree of size \(head.treeSize)")
            }
        }
        return head
    }
}

/// Why a proof could not be made or did not verify.
public enum LogProofError: Error, Equatable, CustomStringConvertible {
    /// The index or sizes asked for are outside the log.
    case outOfRange(String)
    /// The proof document lacks a field or holds a value of the wrong form.
    case malformed(String)
    /// The proof is well formed but does not prove what it claims.
    case invalid(String)

    public var description: String {
        switch self {
        case .outOfRange(let why): "out of range: \(why)"
        case .malformed(let why): "malformed proof: \(why)"
        case .invalid(let why): "proof does not verify: \(why)"
        }
    }
}
