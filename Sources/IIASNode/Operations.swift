import Foundation
import IIASModel

// The boundary between the node's core (exchange with peers, folds over the log) and
// its faces (the local HTTP API, metrics). The local API only ever calls these; the core
// never knows about HTTP. Every type here is what the API serialises as JSON, so the
// names are the API's field names (documented in Docs.docc/LocalAPI.md).

/// What a local user may do, from the node's allow-list; the OS user comes from
/// SO_PEERCRED on the Unix socket, never from anything the client says.
public enum Role: String, Sendable, Codable, CaseIterable {
    /// Composes, sends, reads, replies and acknowledges.
    case `operator`
    /// Reads state, tree heads and delivery status; cannot send, read content or acknowledge.
    case auditor
}

/// The OS user acting on the local socket, recorded in the log with every action.
public struct Actor: Sendable, Codable, Equatable {
    public var user: String
    public var uid: UInt32
    public var role: Role

    public init(user: String, uid: UInt32, role: Role) {
        self.user = user
        self.uid = uid
        self.role = role
    }
}

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

/// How a link to a peer stands.
public enum PeerConnectionState: String, Sendable, Codable, CaseIterable {
    case connected, connecting, backingOff = "backing-off", refused
}

/// A configured peer and its link, for `iias peers`.
public struct PeerStatus: Sendable, Codable, Equatable {
    public var center: CenterID
    public var address: String
    public var state: PeerConnectionState
    /// Notifications waiting for this peer's receipt.
    public var queued: Int
    public var lastConnected: Date?
    public var lastError: String?
    /// Days until the peer's TLS certificate expires, once seen.
    public var certificateDaysLeft: Int?
    /// While backing off: when the link tries again (sooner if the peer connects to us).
    public var nextAttempt: Date?
    /// The peer's signing or encryption certificate that expires first (the folder's).
    public var earliestCertificate: ExpiryReport.Item?

    /// Whole days until the first of the peer's certificates (TLS included) expires.
    public var daysLeft: Int? {
        [certificateDaysLeft, earliestCertificate?.daysLeft].compactMap { $0 }.min()
    }

    public init(center: CenterID, address: String, state: PeerConnectionState, queued: Int, lastConnected: Date? = nil,
                lastError: String? = nil, certificateDaysLeft: Int? = nil, nextAttempt: Date? = nil) {
        self.nextAttempt = nextAttempt
        self.center = center
        self.address = address
        self.state = state
        self.queued = queued
        self.lastConnected = lastConnected
        self.lastError = lastError
        self.certificateDaysLeft = certificateDaysLeft
    }
}

/// The newest signed tree head of this node's log (a C2SP signed note).
public struct TreeHead: Sendable, Codable, Equatable {
    public var treeSize: UInt64
    /// Base64 of the RFC 9162 root hash.
    public var rootHash: String
    /// The whole signed note, verifiable with the node's signing certificate.
    public var checkpoint: String

    public init(treeSize: UInt64, rootHash: String, checkpoint: String) {
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.checkpoint = checkpoint
    }
}

/// The node at a glance, for `iias status`.
public struct NodeStatus: Sendable, Codable, Equatable {
    public var center: CenterID
    public var version: String
    public var started: Date
    public var logEntries: UInt64
    public var inbox: Int
    public var unread: Int
    public var outboxPending: Int
    public var peersConnected: Int
    public var peersConfigured: Int
    public var treeHead: TreeHead?
    /// Time left on our certificates, the peers' and the CRL (nil from older nodes).
    public var expiry: ExpiryReport?
    /// Notifications the node has still to read for threads and requests (after a first
    /// start on a long log, or a lost desk index); nil or 0 when it is up to date.
    public var deskPending: Int?

    public init(center: CenterID, version: String, started: Date, logEntries: UInt64, inbox: Int, unread: Int,
                outboxPending: Int, peersConnected: Int, peersConfigured: Int, treeHead: TreeHead?, expiry: ExpiryReport? = nil) {
        self.center = center
        self.version = version
        self.started = started
        self.logEntries = logEntries
        self.inbox = inbox
        self.unread = unread
        self.outboxPending = outboxPending
        self.peersConnected = peersConnected
        self.peersConfigured = peersConfigured
        self.treeHead = treeHead
        self.expiry = expiry
    }
}

/// What `iias watch` follows: each is emitted after it is logged.
public enum NodeEvent: Sendable, Codable, Equatable {
    case received(InboxItem)
    case delivery(id: UUID, recipient: RecipientDelivery)
    case peer(PeerStatus)
    /// A request came within its due-soon margin or passed its deadline (once per stage;
    /// again after a restart, which forgets what was announced).
    case request(RequestStatus)

    /// The kinds of event, as an event line's `type` names them.
    public enum Kind: String, Sendable, CaseIterable {
        case received, delivery, peer, request
    }

    public var kind: Kind {
        switch self {
        case .received: .received
        case .delivery: .delivery
        case .peer: .peer
        case .request: .request
        }
    }
}

/// Which events one event stream carries (`GET /v1/events?type=…&state=…`): a script that
/// waits for outcomes asks for `state=delivered,refused`, an operator on night duty for
/// `type=received`, and neither reads — nor makes the node write — every step before.
/// Both lists empty: everything. Heartbeats are always sent.
public struct EventFilter: Sendable, Equatable {
    /// The kinds of event carried; empty for all.
    public var kinds: Set<NodeEvent.Kind>
    /// The delivery states whose delivery events are carried; empty for all (events of
    /// other kinds are not affected).
    public var states: Set<DeliveryState>

    public init(kinds: Set<NodeEvent.Kind> = [], states: Set<DeliveryState> = []) {
        self.kinds = kinds
        self.states = states
    }

    public func admits(_ event: NodeEvent) -> Bool {
        guard kinds.isEmpty || kinds.contains(event.kind) else { return false }
        if case .delivery(_, let recipient) = event, !states.isEmpty { return states.contains(recipient.state) }
        return true
    }

    /// The query of `GET /v1/events` that asks for this filter ("" for everything).
    public var query: String {
        var parts: [String] = []
        if !kinds.isEmpty { parts.append("type=" + kinds.map(\.rawValue).sorted().joined(separator: ",")) }
        if !states.isEmpty { parts.append("state=" + states.map(\.rawValue).sorted().joined(separator: ",")) }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    /// Reads the query's `type` and `state` lists (comma-separated); the error names the
    /// first unknown key or value and what is allowed.
    public init(query: [String: String]) throws(FilterProblem) {
        self.init()
        for (key, value) in query {
            let items = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            switch key {
            case "type":
                for item in items {
                    guard let kind = NodeEvent.Kind(rawValue: item) else {
                        throw FilterProblem("type: unknown \(item.prefix(40))", allowed: NodeEvent.Kind.allCases.map(\.rawValue))
                    }
                    kinds.insert(kind)
                }
            case "state":
                for item in items {
                    guard let state = DeliveryState(rawValue: item) else {
                        throw FilterProblem("state: unknown \(item.prefix(40))", allowed: DeliveryState.allCases.map(\.rawValue))
                    }
                    states.insert(state)
                }
            default:
                throw FilterProblem("unknown filter \(key.prefix(40))", allowed: ["type", "state"])
            }
        }
    }

    /// A filter that names something unknown: what, and what is allowed there.
    public struct FilterProblem: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
        public let allowed: [String]
        init(_ description: String, allowed: [String]) {
            self.description = description
            self.allowed = allowed
        }
    }
}

/// Why an operation was refused; the local API maps each to an HTTP status.
public enum NodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The notification fails validation; every problem names its field (HTTP 422).
    case invalidNotification([ValidationProblem])
    /// A recipient is not a configured peer (HTTP 422).
    case unknownRecipient(CenterID)
    /// No notification with this id in this list (HTTP 404).
    case notFound(UUID)
    /// Several received notifications carry this id, one per sender listed, and the
    /// request named none of them (HTTP 409): ids are the senders' own, only (sender, id)
    /// is unique.
    case ambiguous(UUID, senders: [CenterID])
    /// A draft's id is one this node already knows, sent or received (HTTP 409); `use`
    /// says which ("sent by this node", "received from AZ").
    case idInUse(UUID, use: String)
    /// The actor's role does not allow this (HTTP 403).
    case forbidden(String)
    /// The node cannot accept work now, e.g. the disk is full or it is shutting down (HTTP 503).
    case unavailable(String)
    /// A certificate or the CRL this needs has run out (HTTP 409): waiting does not help,
    /// a renewal does; the text says which and how.
    case expired(String)

    public var description: String {
        switch self {
        case .invalidNotification(let problems): "invalid notification: " + problems.map(\.description).joined(separator: "; ")
        case .unknownRecipient(let center): "\(center) is not a configured peer of this node"
        case .notFound(let id): "no notification \(id.uuidString.lowercased())"
        case .ambiguous(let id, let senders):
            "\(senders.count) notifications carry the id \(id.uuidString.lowercased()): "
                + senders.map { EnvelopeKey(sender: $0, id: id).description }.joined(separator: ", ")
        case .idInUse(let id, let use): "the id \(id.uuidString.lowercased()) is already in use on this node (\(use))"
        case .forbidden(let what): "not allowed: \(what)"
        case .unavailable(let why): "the node cannot accept this now: \(why)"
        case .expired(let what): "cannot seal: \(what)"
        }
    }
}

/// What the node's faces may ask of its core.
public protocol NodeOperations: Sendable {
    /// Validates, seals to every recipient, logs as sent (fsynced) and queues; nothing is
    /// logged when validation fails. `notification.sender` is set to this node's center;
    /// a recipient list of `[all]` is not special here (the API expands it).
    /// A reply, update or cancellation inherits the handling of what it names (`Node.inheritHandling`)
    /// unless `weakenHandling`, which sends it as it is and records the weakening in the log.
    func submit(_ notification: FormalNotification, weakenHandling: Bool, by actor: Actor) async throws(NodeError) -> Submission
    /// Several at once, in this order, with one fdatasync — all or none (see `Node.submit(batch:by:)`).
    func submit(batch notifications: [FormalNotification], by actor: Actor) async throws(NodeError) -> [Submission]
    /// A reply to a received notification: `inReplyTo`, kind and recipients (the original
    /// sender) are filled in from the original; the draft supplies the rest.
    /// `sender` names which center's notification `id` is; nil is enough while only one
    /// center used the id (otherwise `.ambiguous`), here and in `read` and `acknowledge`.
    /// Its handling is raised to the original's (`Node.inheritHandling`) unless
    /// `weakenHandling`, which keeps the draft's and records the weakening in the log.
    func reply(to id: UUID, from sender: CenterID?, with draft: FormalNotification, weakenHandling: Bool,
               by actor: Actor) async throws(NodeError) -> Submission
    /// Received notifications with their subjects, newest first; logs that `actor` listed
    /// them (one `consult` entry naming each shown) before answering.
    func inbox(_ filter: InboxFilter, by actor: Actor) async throws(NodeError) -> [InboxItem]
    /// Decrypts one received notification and logs that `actor` read it (every read).
    func read(_ id: UUID, from sender: CenterID?, by actor: Actor) async throws(NodeError) -> ReadResult
    /// Logs the acknowledgement and sends a signed acknowledgement to the sender.
    func acknowledge(_ id: UUID, from sender: CenterID?, by actor: Actor) async throws(NodeError) -> InboxItem
    /// Sent notifications with their subjects, newest first; logged like `inbox`.
    func outbox(limit: Int?, by actor: Actor) async throws(NodeError) -> [OutboxItem]
    /// One sent notification with its subject and delivery state; logged like `inbox`.
    func delivery(of id: UUID, by actor: Actor) async throws(NodeError) -> OutboxItem
    /// Open requests sent and received with deadline and who answered, overdue first;
    /// logged like `inbox` (operators only).
    func requests(by actor: Actor) async throws(NodeError) -> [RequestStatus]
    func peers() async -> [PeerStatus]
    func status() async -> NodeStatus
    func treeHead() async -> TreeHead?
    /// The conversation `id` (`sender`'s) belongs to, oldest first: what it names and
    /// what names it, sent and received; logged like `inbox` (a `thread` consultation).
    func thread(of id: UUID, from sender: CenterID?, by actor: Actor) async throws(NodeError) -> [ThreadItem]
    /// Calls `sink` with every event from now on, in order, until `unsubscribe`, and with
    /// nil once when the node stops. It runs on the node's own thread as the event
    /// happens (no task to wake on the way to a client), so it must only hand it on.
    func subscribe(_ sink: @escaping @Sendable (NodeEvent?) -> Void) async -> EventSubscription
    func unsubscribe(_ subscription: EventSubscription) async
    /// Logs that `actor` subscribes to the event stream with `filter`; the API calls it
    /// before `subscribe`, and answers 503 when the log refuses.
    func recordSubscription(_ filter: EventFilter, by actor: Actor) async throws(NodeError)
    /// Auditors only: the newest `limit` log entries `filter` admits, in log order,
    /// decoded like `iias log entries` (headers and operator actions, nothing decrypted).
    func logEntries(_ filter: LogEntryFilter, limit: Int, by actor: Actor) async throws(NodeError) -> [LogEntrySummary]
}

extension NodeOperations {
    /// `submit(_:weakenHandling:by:)` without weakening.
    public func submit(_ notification: FormalNotification, by actor: Actor) async throws(NodeError) -> Submission {
        try await submit(notification, weakenHandling: false, by: actor)
    }
}

/// A subscription to a node's events (see `NodeOperations.subscribe`).
public struct EventSubscription: Hashable, Sendable {
    let key: UUID
}
