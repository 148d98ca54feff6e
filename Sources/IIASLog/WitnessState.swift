import Foundation
import IIASCrypto

/// What a witness keeps of one log: the latest checkpoint it cosigned, as the log signed it,
/// and when. `addCheckpoint` is the C2SP tlog-witness add-checkpoint decision with no I/O:
/// the caller reads the stored state, asks, persists what `.cosign` returns before it
/// answers, and does both under one lock per origin (the specification's rule against a
/// slower request rolling the state back).
public struct WitnessState: Sendable, Equatable {
    public let checkpoint: Checkpoint
    /// The checkpoint note with the log's signature lines, as received.
    public let note: SignedNote
    /// POSIX seconds of the witness's latest cosignature of this log.
    public let cosignedAt: UInt64

    /// Restores a persisted state.
    public init(note: SignedNote, cosignedAt: UInt64) throws(CheckpointError) {
        checkpoint = try note.checkpoint()
        self.note = note
        self.cosignedAt = cosignedAt
    }

    /// The witness's cosignature of this state's checkpoint, dated `cosignedAt`.
    public func cosignature(name: String, key: SigningPrivateKey) -> Cosignature {
        Cosignature.sign(body: note.body, name: name, key: key, timestamp: cosignedAt)
    }

    /// The answer to one add-checkpoint request.
    /// - Parameters:
    ///   - stored: the latest state cosigned for the request's origin, nil if none yet.
    ///   - logKeys: the keys the witness trusts for that origin (its key name is the
    ///     origin); empty when the origin is unknown. Several: a log between two keys.
    ///   - now: the witness's clock, POSIX seconds; the cosignature's time.
    public static func addCheckpoint(_ request: AddCheckpointRequest, stored: WitnessState?,
                                     logKeys: [SigningPublicKey], now: UInt64) -> WitnessDecision {
        let new = request.checkpoint
        guard !logKeys.isEmpty else { return .refuse(.unknownOrigin(new.origin)) }
        if let stored, stored.checkpoint.origin != new.origin {
            return .refuse(.storedStateOfAnotherOrigin(stored: stored.checkpoint.origin, requested: new.origin))
        }
        let checks = logKeys.compactMap { Checkpoint.signatureCheck(of: request.note, name: new.origin, publicKey: $0) }
        guard !checks.contains(false) else { return .refuse(.badLogSignature(new.origin)) }
        guard !checks.isEmpty else { return .refuse(.noLogSignature(new.origin)) }
        guard request.oldSize <= new.treeSize else { return .refuse(.oldSizeAboveNewSize(old: request.oldSize, new: new.treeSize)) }
        let storedSize = stored?.checkpoint.treeSize ?? 0
        guard request.oldSize == storedSize else { return .conflict(storedSize: storedSize) }
        guard new.treeSize > 0 || new.rootHash == Merkle.emptyRoot else { return .refuse(.emptyTreeRoot) }
        guard request.oldSize > 0 || request.proof.isEmpty else { return .refuse(.proofFromEmptyTree) }
        if let stored {
            if stored.checkpoint.treeSize == new.treeSize, stored.checkpoint.rootHash != new.rootHash {
                return .splitView(SplitViewEvidence(stored: stored.note, received: request.note))
            }
            guard Merkle.verifyConsistency(firstSize: stored.checkpoint.treeSize, secondSize: new.treeSize,
                                           firstRoot: stored.checkpoint.rootHash, secondRoot: new.rootHash, proof: request.proof) else {
                // A larger tree the log cannot prove grew from the one cosigned is kept as
                // evidence; a broken proof between two equal trees is only refused.
                guard stored.checkpoint.treeSize < new.treeSize else {
                    return .refuse(.notConsistent(old: stored.checkpoint.treeSize, new: new.treeSize))
                }
                return .splitView(SplitViewEvidence(stored: stored.note, received: request.note, proof: request.proof))
            }
        }
        guard (1...Cosignature.maximumTimestamp).contains(now), now >= stored?.cosignedAt ?? 0 else {
            return .refuse(.clockNotUsable(now: now, lastCosigned: stored?.cosignedAt))
        }
        return .cosign(WitnessState(checkpoint: new, note: request.note, cosignedAt: now))
    }

    private init(checkpoint: Checkpoint, note: SignedNote, cosignedAt: UInt64) {
        self.checkpoint = checkpoint
        self.note = note
        self.cosignedAt = cosignedAt
    }
}

/// The witness's answer to an add-checkpoint request.
public enum WitnessDecision: Sendable, Equatable {
    /// Consistent: persist this state, then answer with its cosignature (200). The same
    /// checkpoint again is cosigned again, with the new time.
    case cosign(WitnessState)
    /// The request's old size is not the size last cosigned (409, body "SIZE\n").
    case conflict(storedSize: UInt64)
    /// Two checkpoints of the same size with different roots, or a larger one whose proof
    /// does not show the stored tree its prefix, both signed by the log: it shows different
    /// histories (422, and the evidence is kept).
    case splitView(SplitViewEvidence)
    /// Not cosigned, for the reason given.
    case refuse(WitnessRefusal)

    /// The HTTP status C2SP tlog-witness gives this answer.
    public var statusCode: Int {
        switch self {
        case .cosign: 200
        case .conflict: 409
        case .splitView: 422
        case let .refuse(reason): reason.statusCode
        }
    }
}

/// Two checkpoints the same log signed that cannot both be true: of one tree size with
/// different roots, or of two sizes with the log's own consistency proof between them not
/// verifying. Anyone holding the log's public key checks both signatures, so it needs no
/// trust in the witness that found it.
public struct SplitViewEvidence: Sendable, Equatable {
    /// The checkpoint the witness had cosigned (or held from another witness's gossip).
    public let stored: SignedNote
    /// The checkpoint that contradicts it.
    public let received: SignedNote
    /// When the sizes differ: the consistency proof the log gave from the smaller tree to
    /// the larger, which does not verify. Nil for two notes of one size.
    public let proof: [[UInt8]]?

    /// Which contradiction the evidence shows.
    public enum Kind: String, Sendable, Equatable {
        /// One size, two roots.
        case sameSize = "same size, different roots"
        /// Two sizes, and the log's proof does not show the smaller tree a prefix of the larger.
        case notConsistent = "not consistent"
    }

    public init(stored: SignedNote, received: SignedNote, proof: [[UInt8]]? = nil) {
        self.stored = stored
        self.received = received
        self.proof = proof
    }
}
