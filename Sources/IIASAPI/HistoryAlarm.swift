import Foundation
import IIASModel

/// Something a node found that contradicts a history it was shown: a sender that sealed two
/// contents under one id, a log behind the checkpoint its witnesses cosigned (restored from
/// an older copy), or a witness whose stored state was rolled back. Operators act on each;
/// the evidence file, when there is one, proves it to anyone.
public struct HistoryAlarm: Sendable, Codable, Equatable {
    /// What was found.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// A sender signed two different envelopes under one envelope id (`iias audit equivocation`).
        case equivocation
        /// This node's log is behind, or beside, the newest checkpoint a witness cosigned for it.
        case logRestored = "log-restored"
        /// This node's witness state of a peer's log was older than a cosignature it had made.
        case witnessRolledBack = "witness-rolled-back"
    }

    public var kind: Kind
    /// The center the finding is about (the sender, the witness, or the log).
    public var center: CenterID
    /// One line for the operator.
    public var detail: String
    /// The evidence file (`DATA/evidence/…`), when there is one.
    public var evidence: String?

    public init(kind: Kind, center: CenterID, detail: String, evidence: String? = nil) {
        self.kind = kind
        self.center = center
        self.detail = detail
        self.evidence = evidence
    }
}
