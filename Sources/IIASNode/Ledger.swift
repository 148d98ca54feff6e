import Foundation
import IIASCrypto
import IIASLog
import IIASModel

/// What one `operatorAction` log entry says: who did what to which envelope. JSON, no
/// plaintext: a submission's summary (category, priority, subject) is sealed to the
/// node's own X25519 key, so the outbox can show it after a restart while the disk
/// holds only ciphertext.
public struct OperatorAction: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable { case submit, read, acknowledge }
    public var action: Action
    public var envelope: UUID
    public var user: String
    public var uid: UInt32
    /// `submit` only: `OutboxSummary` JSON sealed to this node's encryption key.
    public var sealedSummary: Data?

    public init(action: Action, envelope: UUID, actor: Actor, sealedSummary: Data? = nil) {
        self.action = action
        self.envelope = envelope
        self.user = actor.user
        self.uid = actor.uid
        self.sealedSummary = sealedSummary
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(self)) ?? Data())
    }
}

/// The listing fields of a notification this node sent (sealed to itself in the log).
public struct OutboxSummary: Codable, Sendable, Equatable {
    public var category: Category
    public var priority: Priority
    public var subject: String
}

/// One envelope's recipients and where it stands with each: a small array (one to a
/// few dozen recipients) rather than a dictionary, since one is held per envelope sent.
public struct Deliveries: Sendable {
    public private(set) var values: [RecipientDelivery]

    init(_ values: [RecipientDelivery]) { self.values = values }

    public subscript(center: CenterID) -> RecipientDelivery? {
        get { values.first { $0.center == center } }
        set {
            guard let newValue, let position = values.firstIndex(where: { $0.center == center }) else { return }
            values[position] = newValue
        }
    }
}

/// The node's state as a fold over its log: every entry, in order, applied once.
/// A restart opens the log and folds it again; there is no second store of truth.
///
/// Entry types (see the DocC article "The exchange"):
/// - `sent`: an envelope we signed that must reach its recipients (a notification, or an
///   acknowledgement receipt);
/// - `received`: a notification from a peer, verified and addressed to us;
/// - `receipt`: a receipt from a peer, verified: delivered or refused for one of our
///   `sent` envelopes, or an acknowledgement of one of our notifications;
/// - `operatorAction`: an `OperatorAction` (submit, read, acknowledge) with the OS user;
/// - `treeHead`: a signed checkpoint (not folded).
public struct Ledger: Sendable {
    /// An envelope of ours and where it stands with each recipient.
    public struct Outgoing: Sendable {
        public var index: UInt64
        public var id: UUID
        public var isAcknowledgement: Bool
        /// The recipients in order (from the per-recipient states).
        public var recipients: [CenterID] { delivery.values.map(\.center) }
        public var created: Date
        public var sha256: [UInt8]
        public var delivery: Deliveries
        public var summary: Data?
        public var submittedBy: String?
    }

    /// An envelope a peer sent us (a notification, or an acknowledgement of ours).
    public struct Incoming: Sendable {
        public var index: UInt64
        public var id: UUID
        public var sender: CenterID
        public var received: Date
        public var created: Date
        public var sha256: [UInt8]
        public var isAcknowledgement: Bool
        public var read = false
        public var acknowledgedBy: String?
        public var acknowledged: Date?
        /// Our acknowledgement envelope, once an operator acknowledged.
        public var acknowledgement: UUID?
    }

    public let center: CenterID
    public private(set) var outgoing: [UUID: Outgoing] = [:]
    public private(set) var outgoingOrder: [UUID] = []
    public private(set) var incoming: [UUID: Incoming] = [:]
    public private(set) var inboxOrder: [UUID] = []
    /// Entries that did not fold (unparseable payloads), with the reason; reported at start-up.
    public private(set) var skipped: [(index: UInt64, reason: String)] = []

    public init(center: CenterID) { self.center = center }

    /// Folds one log entry. Payloads were verified before they were logged; here they
    /// are only parsed, so a fold never needs keys or certificates.
    /// `envelope`: the entry's payload already parsed (the node's own appends), to spare a second parse.
    public mutating func apply(_ entry: LogEntry, envelope parsed: Envelope? = nil) {
        let time = Date(timeIntervalSince1970: Double(entry.timeMilliseconds) / 1000)
        switch entry.type {
        case .sent:
            guard let envelope = parsed ?? parse(entry) else { return }
            let header = envelope.header
            let isAck = header.kind == .receipt
            if isAck, let answered = header.receipt?.envelopeID {
                incoming[answered]?.acknowledgement = header.id
            }
            recordOutgoing(Outgoing(index: entry.index, id: header.id, isAcknowledgement: isAck,
                                    created: header.created, sha256: envelope.sha256,
                                    delivery: Deliveries(header.recipients.sorted().map {
                                        RecipientDelivery(center: $0, state: .queued, updated: time)
                                    })))
        case .received:
            guard let envelope = parsed ?? parse(entry) else { return }
            let header = envelope.header
            guard incoming[header.id] == nil else { return }
            incoming[header.id] = Incoming(index: entry.index, id: header.id, sender: header.sender, received: time,
                                           created: header.created, sha256: envelope.sha256, isAcknowledgement: false)
            inboxOrder.append(header.id)
        case .receipt:
            guard let envelope = parsed ?? parse(entry), let receipt = envelope.header.receipt else { return }
            let from = envelope.header.sender
            if receipt.outcome == .acknowledged {
                // An acknowledgement of one of our notifications: remembered as incoming
                // (to answer duplicates with the same delivery receipt) and shown as state.
                if incoming[envelope.header.id] == nil {
                    incoming[envelope.header.id] = Incoming(index: entry.index, id: envelope.header.id, sender: from,
                                                            received: time, created: envelope.header.created,
                                                            sha256: envelope.sha256, isAcknowledgement: true)
                }
                update(receipt.envelopeID, recipient: from) { delivery in
                    delivery.state = .acknowledged
                    delivery.receiptLogIndex = entry.index
                    delivery.updated = time
                }
            } else {
                update(receipt.envelopeID, recipient: from) { delivery in
                    guard delivery.state == .queued || delivery.state == .sent else { return }
                    delivery.state = receipt.outcome == .delivered ? .delivered : .refused
                    delivery.recipientLogIndex = receipt.logIndex
                    delivery.receiptLogIndex = entry.index
                    delivery.reason = receipt.reason?.rawValue
                    delivery.detail = receipt.detail
                    delivery.nextAttempt = nil
                    delivery.updated = time
                }
            }
        case .operatorAction:
            guard let action = try? JSONDecoder().decode(OperatorAction.self, from: Data(entry.payload)) else {
                skipped.append((entry.index, "operator action is not JSON"))
                return
            }
            switch action.action {
            case .submit:
                outgoing[action.envelope]?.summary = action.sealedSummary
                outgoing[action.envelope]?.submittedBy = action.user
                pendingSummaries[action.envelope] = (action.sealedSummary, action.user)
            case .read:
                incoming[action.envelope]?.read = true
            case .acknowledge:
                incoming[action.envelope]?.read = true
                if incoming[action.envelope]?.acknowledged == nil {
                    incoming[action.envelope]?.acknowledged = time
                    incoming[action.envelope]?.acknowledgedBy = action.user
                }
            }
        case .treeHead:
            break
        }
    }

    /// A submit action may be logged just before its `sent` entry (the two are appended
    /// together); its summary waits here for the envelope.
    private var pendingSummaries: [UUID: (Data?, String)] = [:]

    private mutating func recordOutgoing(_ item: Outgoing) {
        guard outgoing[item.id] == nil else { return }
        var item = item
        if let (summary, user) = pendingSummaries.removeValue(forKey: item.id) {
            item.summary = summary
            item.submittedBy = user
        }
        outgoing[item.id] = item
        outgoingOrder.append(item.id)
    }

    /// Changes one recipient's delivery state of one of our envelopes (no-op for strangers).
    public mutating func update(_ id: UUID, recipient: CenterID, _ change: (inout RecipientDelivery) -> Void) {
        guard var delivery = outgoing[id]?.delivery[recipient] else { return }
        change(&delivery)
        outgoing[id]?.delivery[recipient] = delivery
    }

    /// Our envelopes that `peer` has not answered yet, in log order.
    public func pending(for peer: CenterID) -> [UUID] {
        outgoingOrder.filter { id in
            guard let state = outgoing[id]?.delivery[peer]?.state else { return false }
            return state == .queued || state == .sent
        }
    }

    private mutating func parse(_ entry: LogEntry) -> Envelope? {
        do { return try Envelope(parsing: entry.payload) } catch {
            skipped.append((entry.index, "not an envelope: \(error)"))
            return nil
        }
    }
}
