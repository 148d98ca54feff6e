import Foundation

/// How far the node's log is witnessed: the newest checkpoint a quorum of peers cosigned
/// and how far the log has grown past it. An operator watches it because receipt proofs
/// end in that checkpoint: while peers are offline the node keeps working and this lag grows.
public struct WitnessedStatus: Sendable, Codable, Equatable {
    /// Peers' cosignatures a checkpoint needs (`witness.quorum`); false `enabled`: witnessing is off.
    public var quorum: Int
    public var enabled: Bool
    /// The newest quorum-cosigned checkpoint's size and when it met the quorum (nil: none yet).
    public var treeSize: UInt64?
    public var reachedAt: Date?
    /// Log entries not covered by it, and how long the oldest of them has waited (seconds).
    public var lagEntries: UInt64
    public var lagSeconds: Double

    public init(quorum: Int, enabled: Bool, treeSize: UInt64?, reachedAt: Date?, lagEntries: UInt64, lagSeconds: Double) {
        self.quorum = quorum
        self.enabled = enabled
        self.treeSize = treeSize
        self.reachedAt = reachedAt
        self.lagEntries = lagEntries
        self.lagSeconds = lagSeconds
    }
}
