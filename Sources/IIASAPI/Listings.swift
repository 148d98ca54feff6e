import Foundation
import IIASModel

// What the local API lists: the outbox with each recipient's delivery state, the inbox,
// and the answers to a submission and a read. The names are the API's JSON field names
// (LocalAPI.md in IIASNode's documentation).

/// Where one notification stands with one recipient; derived from the log.
public enum DeliveryState: String, Sendable, Codable, CaseIterable {
    /// Logged as sent, waiting for a connection to the recipient.
    case queued
    /// Written to the recipient's connection; no receipt yet.
    case sent
    /// The recipient's signed delivery receipt is logged here.
    case delivered
    /// An operator at the recipient acknowledged it (their signed acknowledgement is logged here).
    case acknowledged
    /// The recipient answered with a signed refusal; `reason` says why.
    case refused
}

/// One recipient's delivery state of one sent notification.
public struct RecipientDelivery: Sendable, Codable, Equatable {
    public var center: CenterID
    public var state: DeliveryState
    /// Wire attempts so far (0 while queued and never tried).
    public var attempts: Int
    /// When the next attempt is due while queued.
    public var nextAttempt: Date?
    /// The recipient's log index from its receipt.
    public var recipientLogIndex: UInt64?
    /// Our log index of the receipt or refusal.
    public var receiptLogIndex: UInt64?
    public var reason: String?
    public var detail: String?
    public var updated: Date?

    public init(center: CenterID, state: DeliveryState, attempts: Int = 0, nextAttempt: Date? = nil,
                recipientLogIndex: UInt64? = nil, receiptLogIndex: UInt64? = nil, reason: String? = nil,
                detail: String? = nil, updated: Date? = nil) {
        self.center = center
        self.state = state
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.recipientLogIndex = recipientLogIndex
        self.receiptLogIndex = receiptLogIndex
        self.reason = reason
        self.detail = detail
        self.updated = updated
    }
}

/// A notification this node sent, with its per-recipient state.
public struct OutboxItem: Sendable, Codable, Equatable {
    public var id: UUID
    public var logIndex: UInt64
    public var created: Date
    public var category: Category
    public var priority: Priority
    public var subject: String
    public var submittedBy: String?
    public var recipients: [RecipientDelivery]
    /// Nil for submissions logged before the outbox summary recorded them.
    public var kind: Kind?
    public var tlp: TLP?

    public init(id: UUID, logIndex: UInt64, created: Date, category: Category, priority: Priority, subject: String,
                submittedBy: String?, recipients: [RecipientDelivery], kind: Kind? = nil, tlp: TLP? = nil) {
        self.kind = kind
        self.tlp = tlp
        self.id = id
        self.logIndex = logIndex
        self.created = created
        self.category = category
        self.priority = priority
        self.subject = subject
        self.submittedBy = submittedBy
        self.recipients = recipients
    }
}

/// A notification this node received. Category, priority and subject are inside the
/// encrypted body; the node decrypts them for the listing (never writes them to disk).
public struct InboxItem: Sendable, Codable, Equatable {
    public var id: UUID
    public var logIndex: UInt64
    public var sender: CenterID
    public var received: Date
    public var created: Date
    public var kind: Kind
    public var category: Category
    public var priority: Priority
    public var subject: String
    public var inReplyTo: UUID?
    /// The sharing label, so that a listing shows what may not be passed on.
    public var tlp: TLP?
    /// Some operator opened it (`read`).
    public var read: Bool
    /// Who acknowledged it and when, if anyone did.
    public var acknowledgedBy: String?
    public var acknowledged: Date?
    /// What later notifications did to it (cancelled, updated, replied), in `inbox` and
    /// `read`; nil when nothing names it, and in events.
    public var thread: ThreadMark?
    /// True while the node is still reading older notifications of its log for threads
    /// (after a first start on a large log): `thread` may be missing until then.
    public var threadPending: Bool?

    public init(id: UUID, logIndex: UInt64, sender: CenterID, received: Date, created: Date, kind: Kind,
                category: Category, priority: Priority, subject: String, inReplyTo: UUID?, read: Bool,
                acknowledgedBy: String?, acknowledged: Date?, tlp: TLP? = nil, thread: ThreadMark? = nil) {
        self.tlp = tlp
        self.thread = thread
        self.id = id
        self.logIndex = logIndex
        self.sender = sender
        self.received = received
        self.created = created
        self.kind = kind
        self.category = category
        self.priority = priority
        self.subject = subject
        self.inReplyTo = inReplyTo
        self.read = read
        self.acknowledgedBy = acknowledgedBy
        self.acknowledged = acknowledged
    }
}

/// Filters for the inbox listing; every field narrows, nil means "any".
public struct InboxFilter: Sendable, Codable, Equatable {
    public var category: Category?
    public var priority: Priority?
    public var sender: CenterID?
    public var unread: Bool?
    public var since: Date?
    public var limit: Int?

    public init(category: Category? = nil, priority: Priority? = nil, sender: CenterID? = nil, unread: Bool? = nil,
                since: Date? = nil, limit: Int? = nil) {
        self.category = category
        self.priority = priority
        self.sender = sender
        self.unread = unread
        self.since = since
        self.limit = limit
    }
}

/// The answer to a submission: durable (logged and fsynced) before it is returned.
public struct Submission: Sendable, Codable, Equatable {
    public var id: UUID
    public var logIndex: UInt64
    public var recipients: [CenterID]

    public init(id: UUID, logIndex: UInt64, recipients: [CenterID]) {
        self.id = id
        self.logIndex = logIndex
        self.recipients = recipients
    }
}

/// One received notification, decrypted on demand for an operator.
public struct ReadResult: Sendable, Codable, Equatable {
    public var item: InboxItem
    public var notification: FormalNotification

    public init(item: InboxItem, notification: FormalNotification) {
        self.item = item
        self.notification = notification
    }
}

