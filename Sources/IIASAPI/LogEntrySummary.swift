import Foundation
import IIASCrypto
import IIASLog
import IIASModel

/// What an auditor sees of one log entry without any key: the clear, signed envelope
/// header (kind, sender, recipients, created, version, signer key, receipts' outcomes) or
/// the operator action (who, what, which notifications or which query). Nothing is
/// decrypted: subjects and content never appear. `iias log entries` prints these.
public struct LogEntrySummary: Codable, Sendable, Equatable {
    public struct ReceiptLine: Codable, Sendable, Equatable {
        public var envelope: UUID
        public var outcome: String
        public var reason: String?
    }

    public var index: UInt64
    public var time: Date
    /// The entry type: `sent`, `received`, `receipt`, `treeHead`, `operatorAction`.
    public var type: String
    // Operator actions.
    /// `submit`, `read`, `acknowledge` (`OperatorAction`), `consult` (`Consultation`), `cosign` (`CosignatureRecord`)
    /// or `log-epoch` (`LogEpochRecord`).
    public var action: String?
    /// A consultation's view: `inbox`, `outbox`, `outboxItem`, `events`, `requests`.
    public var view: String?
    public var user: String?
    public var uid: UInt32?
    public var role: String?
    public var query: String?
    /// How many notifications a consultation showed.
    public var count: Int?
    /// `SENDER/ID` (or the id alone where the action did not name the sender).
    public var notifications: [String]?
    /// A submission the operator sent with weaker handling than what it answers, explicitly.
    public var weakenedHandling: Bool?
    /// A `cosign` record's checkpoint of a peer's log: "AZ size 12 root BASE64".
    /// `alarm-acknowledged`: the alarm's key.
    public var alarm: String?
    public var checkpoint: String?
    // Envelopes.
    public var id: UUID?
    public var kind: String?
    public var sender: String?
    public var recipients: [String]?
    public var created: Date?
    public var version: Int?
    /// SHA-256 of the signing key's SubjectPublicKeyInfo (version 3 envelopes), hex.
    public var signer: String?
    public var receipts: [ReceiptLine]?
    /// Why the payload could not be decoded (the entry is still listed).
    public var problem: String?

    public init(_ entry: LogEntry) {
        index = entry.index
        time = entry.time
        type = "\(entry.type)"
        switch entry.type {
        case .sent, .received, .receipt:
            do { describe(try Envelope(parsing: entry.payload)) } catch { problem = "not an envelope: \(error)" }
        case .operatorAction:
            if let action = OperatorAction(json: entry.payload) {
                describe(action)
            } else if let consultation = Consultation(json: entry.payload) {
                describe(consultation)
            } else if let cosigned = CosignatureRecord(json: entry.payload) {
                action = CosignatureRecord.action
                checkpoint = cosigned.checkpointText
            } else if let stored = AttachmentLogRecord(json: entry.payload) {
                action = AttachmentLogRecord.action
                id = stored.envelope
                sender = stored.sender.rawValue
            } else if let epoch = LogEpochRecord(json: entry.payload) {
                action = LogEpochRecord.action
                checkpoint = epoch.checkpointText
            } else if let acknowledged = AlarmAcknowledgement(json: entry.payload, time: entry.time) {
                action = AlarmAcknowledgement.action
                alarm = acknowledged.alarm
                user = acknowledged.user
                uid = acknowledged.uid
            } else {
                problem = "operator action is not JSON of a known form"
            }
        case .treeHead:
            break
        }
    }

    private mutating func describe(_ envelope: Envelope) {
        let header = envelope.header
        id = header.id
        kind = header.kind.rawValue
        sender = header.sender.rawValue
        recipients = header.recipients.map(\.rawValue)
        created = header.created
        version = Int(envelope.version)
        signer = header.signer?.hexString
        let answered = header.receipts
        if !answered.isEmpty { receipts = answered.map { ReceiptLine(envelope: $0.envelopeID, outcome: $0.outcome.rawValue, reason: $0.reason?.rawValue) } }
    }

    private mutating func describe(_ action: OperatorAction) {
        self.action = action.action.rawValue
        user = action.user
        uid = action.uid
        weakenedHandling = action.weakenedHandling
        let id = action.envelope.upperCaseString
        notifications = [action.sender.map { "\($0.rawValue)/\(id)" } ?? id]
    }

    private mutating func describe(_ consultation: Consultation) {
        action = Consultation.action
        view = consultation.view.rawValue
        user = consultation.user
        uid = consultation.uid
        role = consultation.role.rawValue
        query = consultation.query
        count = consultation.count
        notifications = consultation.notifications.map(\.text)
    }

    /// Whether `--type NAME` selects this entry: NAME is its entry type, its action, or
    /// a consultation's view.
    public func hasType(_ name: String) -> Bool { [type, action, view].contains(name) }

    /// Every name `hasType` knows, for the usage message.
    public static let typeNames: [String] = EntryType.allCases.map { "\($0)" } + OperatorAction.Action.allCases.map(\.rawValue)
        + [Consultation.action, CosignatureRecord.action, LogEpochRecord.action, AlarmAcknowledgement.action] + Consultation.View.allCases.map(\.rawValue)
}
