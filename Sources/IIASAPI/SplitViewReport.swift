import Foundation
import IIASModel

/// A split view this node's witness found in a peer's log: two checkpoints of one size
/// with different roots, both signed by that log. Operators act on it (the peer center's
/// log is not to be trusted); the evidence file proves it to anyone (`iias audit split-view`).
public struct SplitViewReport: Sendable, Codable, Equatable {
    /// The center whose log signed both checkpoints.
    public var log: CenterID
    public var treeSize: UInt64
    /// Where the evidence is kept (`DATA/evidence/…json`).
    public var evidence: String

    public init(log: CenterID, treeSize: UInt64, evidence: String) {
        self.log = log
        self.treeSize = treeSize
        self.evidence = evidence
    }
}
