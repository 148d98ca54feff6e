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
        /// A peer's log signed two checkpoints that cannot both be true (`iias audit split-view`).
        case splitView = "split-view"
        /// A peer's log left unanswered, past `witness.proofWaitSeconds`, whether a checkpoint
        /// another witness gossiped is consistent with the one this node cosigned.
        case unproven

        /// How `iias status` heads the alarm's line.
        public var label: String { self == .splitView ? "SPLIT VIEW" : rawValue.uppercased() }
    }

    public var kind: Kind
    /// The center the finding is about (the sender, the witness, or the log).
    public var center: CenterID
    /// One line for the operator.
    public var detail: String
    /// The evidence file (`DATA/evidence/…`), when there is one.
    public var evidence: String?
    /// What names this alarm for `iias alarms ack`: the kind, a slash, and the evidence
    /// file's name (or a digest of the detail when there is no file).
    public var key: String?
    /// Set once an operator acknowledged it: it stays listed, but `iias status
    /// --check-history` no longer counts it.
    public var acknowledged: AlarmAcknowledgement?

    public init(kind: Kind, center: CenterID, detail: String, evidence: String? = nil) {
        self.kind = kind
        self.center = center
        self.detail = detail
        self.evidence = evidence
    }
}

/// An operator's acknowledgement of a history alarm: who, when and why. The evidence stays;
/// monitoring (`iias status --check-history`) stops counting the alarm, so that the next one
/// shows. Kept by the node and logged as an `operatorAction` entry, so an auditor sees who
/// set an alarm aside.
public struct AlarmAcknowledgement: Sendable, Codable, Equatable {
    public static let action = "alarm-acknowledged"
    /// Longest note kept, in bytes of UTF-8.
    public static let maximumNoteBytes = 1024

    /// The alarm's ``HistoryAlarm/key``.
    public var alarm: String
    public var user: String
    public var uid: UInt32
    /// Why it was set aside (what was done about it).
    public var note: String
    public var at: Date

    public init(alarm: String, user: String, uid: UInt32, note: String, at: Date) {
        self.alarm = alarm
        self.user = user
        self.uid = uid
        self.note = note
        self.at = at
    }

    /// The log entry's JSON (its time is the entry's).
    public func encoded() -> [UInt8] {
        JSONWriter.bytes(.object([
            "action": .string(Self.action), "alarm": .string(alarm), "note": .string(note), "user": .string(user), "uid": .integer(Int64(uid)),
        ]))
    }

    /// Reads what `encoded()` wrote, dated `time`; nil for anything else.
    public init?(json bytes: [UInt8], time: Date) {
        guard let parsed = try? JSONParser.parse(bytes), parsed.duplicateKeys.isEmpty, case .object(let object) = parsed.value,
              object.count == 5, case .string(Self.action)? = object["action"], case .string(let alarm)? = object["alarm"],
              case .string(let note)? = object["note"], case .string(let user)? = object["user"],
              case .integer(let uid)? = object["uid"], let uid = UInt32(exactly: uid) else { return nil }
        self.init(alarm: alarm, user: user, uid: uid, note: note, at: time)
    }
}

/// The body of `POST /v1/alarms/ack`.
public struct AlarmAcknowledgementRequest: Sendable, Codable, Equatable {
    public var key: String
    public var note: String

    public init(key: String, note: String) { (self.key, self.note) = (key, note) }
}
