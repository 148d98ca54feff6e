import Foundation
import IIASAPI
import IIASModel

// The boundary between the node's core (exchange with peers, folds over the log) and
// its faces (the local HTTP API, metrics). The local API only ever calls these; the core
// never knows about HTTP. What they take and answer are the local API's own types
// (IIASAPI), whose names are the API's field names (documented in Docs.docc/LocalAPI.md).

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
    /// No history alarm with this key is held (HTTP 404).
    case unknownAlarm(String)

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
        case .unknownAlarm(let key): "no history alarm \(key.prefix(200))"
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
    func submit(_ notification: FormalNotification, weakenHandling: Bool, by actor: LocalUser) async throws(NodeError) -> Submission
    /// Several at once, in this order, with one fdatasync — all or none (see `Node.submit(batch:by:)`).
    func submit(batch notifications: [FormalNotification], by actor: LocalUser) async throws(NodeError) -> [Submission]
    /// A reply to a received notification: `inReplyTo`, kind and recipients (the original
    /// sender) are filled in from the original; the draft supplies the rest.
    /// `sender` names which center's notification `id` is; nil is enough while only one
    /// center used the id (otherwise `.ambiguous`), here and in `read` and `acknowledge`.
    /// Its handling is raised to the original's (`Node.inheritHandling`) unless
    /// `weakenHandling`, which keeps the draft's and records the weakening in the log.
    func reply(to id: UUID, from sender: CenterID?, with draft: FormalNotification, weakenHandling: Bool,
               by actor: LocalUser) async throws(NodeError) -> Submission
    /// Received notifications with their subjects, newest first; logs that `actor` listed
    /// them (one `consult` entry naming each shown) before answering.
    func inbox(_ filter: InboxFilter, by actor: LocalUser) async throws(NodeError) -> [InboxItem]
    /// Decrypts one received notification and logs that `actor` read it (every read).
    func read(_ id: UUID, from sender: CenterID?, by actor: LocalUser) async throws(NodeError) -> ReadResult
    /// Logs the acknowledgement and sends a signed acknowledgement to the sender.
    func acknowledge(_ id: UUID, from sender: CenterID?, by actor: LocalUser) async throws(NodeError) -> InboxItem
    /// Sent notifications with their subjects, newest first; logged like `inbox`.
    func outbox(limit: Int?, by actor: LocalUser) async throws(NodeError) -> [OutboxItem]
    /// One sent notification with its subject and delivery state; logged like `inbox`.
    func delivery(of id: UUID, by actor: LocalUser) async throws(NodeError) -> OutboxItem
    /// The C2SP tlog-proof bundle `recipient` sent for our notification `id`: proof that it
    /// is in that recipient's log under a checkpoint its witnesses cosigned; logged like `inbox`.
    func receiptProof(of id: UUID, from recipient: CenterID, by actor: LocalUser) async throws(NodeError) -> [UInt8]
    /// Open requests sent and received with deadline and who answered, overdue first;
    /// logged like `inbox` (operators only).
    func requests(by actor: LocalUser) async throws(NodeError) -> [RequestStatus]
    func peers() async -> [PeerStatus]
    func status() async -> NodeStatus
    func treeHead() async -> TreeHead?
    /// The conversation `id` (`sender`'s) belongs to, oldest first: what it names and
    /// what names it, sent and received; logged like `inbox` (a `thread` consultation).
    func thread(of id: UUID, from sender: CenterID?, by actor: LocalUser) async throws(NodeError) -> [ThreadItem]
    /// Calls `sink` with every event from now on, in order, until `unsubscribe`, and with
    /// nil once when the node stops. It runs on the node's own thread as the event
    /// happens (no task to wake on the way to a client), so it must only hand it on.
    func subscribe(_ sink: @escaping @Sendable (NodeEvent?) -> Void) async -> EventSubscription
    func unsubscribe(_ subscription: EventSubscription) async
    /// Logs that `actor` subscribes to the event stream with `filter`; the API calls it
    /// before `subscribe`, and answers 503 when the log refuses.
    func recordSubscription(_ filter: EventFilter, by actor: LocalUser) async throws(NodeError)
    /// Auditors only: the newest `limit` log entries `filter` admits, in log order,
    /// decoded like `iias log entries` (headers and operator actions, nothing decrypted).
    func logEntries(_ filter: LogEntryFilter, limit: Int, by actor: LocalUser) async throws(NodeError) -> [LogEntrySummary]
    /// The history alarms held (split views, equivocations, a restore, a rolled-back
    /// witness), acknowledged or not.
    func alarms() async -> [HistoryAlarm]
    /// Sets alarm `key` aside with `note`: logged, kept, no longer counted by monitoring.
    /// Operators only; acknowledging one already acknowledged changes nothing.
    func acknowledgeAlarm(_ key: String, note: String, by actor: LocalUser) async throws(NodeError) -> HistoryAlarm
}

extension NodeOperations {
    /// `submit(_:weakenHandling:by:)` without weakening.
    public func submit(_ notification: FormalNotification, by actor: LocalUser) async throws(NodeError) -> Submission {
        try await submit(notification, weakenHandling: false, by: actor)
    }
}

/// A subscription to a node's events (see `NodeOperations.subscribe`).
public struct EventSubscription: Hashable, Sendable {
    let key: UUID
}
