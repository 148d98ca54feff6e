import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel

/// The node's state as a fold over its log: every entry, in order, applied once.
/// A restart opens the log and folds it again (from a snapshot bound to the log's root,
/// see `Ledger+Snapshot.swift`); there is no second store of truth.
///
/// Entry types (see the DocC article "The exchange"):
/// - `sent`: an envelope we signed that must reach its recipients (a notification, or an
///   acknowledgement receipt);
/// - `received`: a notification from a peer, verified and addressed to us;
/// - `receipt`: a receipt from a peer, verified: delivered or refused for one of our
///   `sent` envelopes, or an acknowledgement of one of our notifications;
/// - `operatorAction`: an `OperatorAction` (submit, read, acknowledge) with the OS user;
/// - `treeHead`: a signed checkpoint (not folded).
///
/// Memory is what a node running for years pays per envelope, so the fold keeps flat
/// arrays of small fixed-size records (no strings, no per-envelope allocation): about
/// 56 bytes per received notification and 100 per sent one. What it can find in the log
/// again — the envelope's bytes and digest, a refusal's detail, the sealed outbox
/// summary — it does not copy; it keeps the log index where it is.
public struct Ledger: Sendable {
    /// An envelope of ours and where it stands with each recipient (a view).
    public struct Outgoing: Sendable {
        public var index: UInt64
        public var id: UUID
        public var isAcknowledgement: Bool
        /// The recipients in order (from the per-recipient states).
        public var recipients: [CenterID] { delivery.values.map(\.center) }
        public var created: Date
        public var delivery: Deliveries
        /// Log index of the `submit` action holding the sealed summary, if logged.
        public var summaryIndex: UInt64?
        public var submittedBy: String?
    }

    /// An envelope a peer sent us (a notification, or an acknowledgement of ours) (a view).
    public struct Incoming: Sendable {
        public var index: UInt64
        public var id: UUID
        public var sender: CenterID
        public var received: Date
        public var isAcknowledgement: Bool
        public var read: Bool
        public var acknowledgedBy: String?
        public var acknowledged: Date?
    }

    // Records: plain values only, so that arrays of them are flat and a snapshot is their bytes.

    static let none = UInt64.max

    struct OutgoingRecord: Sendable, Equatable {
        var index: UInt64
        var summaryIndex: UInt64 = Ledger.none
        var createdMilliseconds: Int64
        var firstDelivery: UInt32
        var deliveryCount: UInt16
        var submittedBy: UInt16 = Names.none
        var isAcknowledgement: Bool
    }

    struct DeliveryRecord: Sendable, Equatable {
        var receiptIndex: UInt64 = Ledger.none
        var recipientLogIndex: UInt64 = Ledger.none
        var updatedMilliseconds: Int64
        var center: UInt16
        var state: UInt8
        /// 0, or 1 + the position of the refusal reason in `Receipt.RefusalReason.allCases`.
        var reason: UInt8 = 0
    }

    struct IncomingRecord: Sendable, Equatable {
        var index: UInt64
        var receivedMilliseconds: Int64
        var acknowledgedMilliseconds: Int64 = 0
        var sender: UInt16
        var acknowledgedBy: UInt16 = Names.none
        var isAcknowledgement: Bool
        var read = false
    }

    public let center: CenterID
    var outgoingIDs: [UUID] = []
    var outgoingRecords: [OutgoingRecord] = []
    var outgoingPositions = UUIDPositions()
    var deliveries: [DeliveryRecord] = []
    var incomingIDs: [UUID] = []
    var incomingRecords: [IncomingRecord] = []
    var incomingPositions = UUIDPositions()
    /// Centers and OS user names, each stored once; records hold their numbers.
    var centers = Names()
    var users = Names()
    /// A submit action may be logged just before its `sent` entry (the two are appended
    /// together); its log index and user wait here for the envelope.
    var pendingSubmits: [UUID: (index: UInt64, user: UInt16)] = [:]
    /// Entries folded so far (the log index the next `apply` expects).
    public internal(set) var folded: UInt64 = 0
    /// Entries applied (tree heads included, through `skip`); equals `folded` when none is missing.
    var applied: UInt64 = 0
    /// The log root a loaded snapshot was bound to (nil for a ledger folded from the start).
    public internal(set) var snapshotRoot: [UInt8]?
    /// Loaded from a version 1 snapshot: the times of waiting deliveries must be read from
    /// the log again (see `Ledger+Snapshot.swift`).
    var snapshotTimesNeedLog = false
    /// Entries that did not fold (unparseable payloads), with the reason; reported at start-up.
    public internal(set) var skipped: [(index: UInt64, reason: String)] = []
    /// Refusals under the null id, which a recipient sends for bytes it could not even
    /// parse (e.g. an envelope version its build does not read): they name only the
    /// SHA-256, and the fold keeps no digests, so the node matches them to its envelopes
    /// (`Node.settleRefusalsByDigest`). Rare; taken, not kept in snapshots.
    var refusalsByDigest: [RefusalByDigest] = []

    struct RefusalByDigest: Sendable {
        var entry: UInt64
        var time: Int64
        var from: CenterID
        var receipt: Receipt
    }

    public init(center: CenterID) { self.center = center }

    // MARK: Lookups

    /// Our envelopes by id (we are their sender, so the id alone identifies them).
    public var outgoing: Lookup<UUID, Outgoing> { Lookup { id in outgoingPosition(id).map { outgoingView(at: $0) } } }
    /// Envelopes from peers by (sender, id): `ledger.incoming[sender, id]`.
    public var incoming: Lookup<EnvelopeKey, Incoming> {
        Lookup { key in incomingPosition(key.id, from: key.sender).map { incomingView(at: $0) } }
    }

    /// A read-only view by key, so that call sites read `ledger.outgoing[id]`.
    public struct Lookup<Key, Value> {
        let find: (Key) -> Value?
        public subscript(key: Key) -> Value? { find(key) }
    }

    func outgoingPosition(_ id: UUID) -> Int? { outgoingPositions.position(of: id, in: outgoingIDs) }

    /// The position of `sender`'s envelope `id`: the id is hashed, the sender compared
    /// as the record's center number (no string is built per lookup).
    func incomingPosition(_ id: UUID, from sender: CenterID) -> Int? {
        guard let number = centers.number(of: sender) else { return nil }
        return incomingPosition(id, senderNumber: number)
    }

    func incomingPosition(_ id: UUID, senderNumber number: UInt16) -> Int? {
        incomingPositions.position(of: id, in: incomingIDs) { incomingRecords[$0].sender == number }
    }

    /// Every envelope from peers with this id, whoever sent it, in log order.
    public func incoming(withID id: UUID) -> [Incoming] {
        incomingPositions.positions(of: id, in: incomingIDs).map(incomingView(at:))
    }

    /// Received notifications (not acknowledgements) with this id, from `sender` only when
    /// given: what an operator's id names. Several means the id is ambiguous without a sender.
    public func inboxMatches(_ id: UUID, from sender: CenterID? = nil) -> [Incoming] {
        incoming(withID: id).filter { !$0.isAcknowledgement && (sender == nil || $0.sender == sender) }
    }

    /// What this node already knows under `id`, in either direction, said for a person
    /// ("sent by this node", "received from AZ"); nil for an id never seen. A draft may
    /// not reuse an id it knows (`Node.checkNewIDs`).
    public func knownUse(of id: UUID) -> String? {
        if outgoingPosition(id) != nil { return "sent by this node" }
        let senders = incoming(withID: id).map(\.sender.rawValue)
        return senders.isEmpty ? nil : "received from " + senders.joined(separator: ", ")
    }

    /// Received notifications (not acknowledgements) in log order.
    public var inboxOrder: [EnvelopeKey] {
        incomingIDs.indices.filter { !incomingRecords[$0].isAcknowledgement }
            .map { EnvelopeKey(sender: centers.center(incomingRecords[$0].sender), id: incomingIDs[$0]) }
    }
    /// Our envelopes in log order.
    public var outgoingOrder: [UUID] { outgoingIDs }
    /// Positions of received notifications, newest first (what listings walk).
    var inboxPositionsNewestFirst: some Sequence<Int> {
        incomingRecords.indices.reversed().lazy.filter { !incomingRecords[$0].isAcknowledgement }
    }
    var inboxCount: Int { incomingRecords.lazy.filter { !$0.isAcknowledgement }.count }
    var unreadCount: Int { incomingRecords.lazy.filter { !$0.isAcknowledgement && !$0.read }.count }
    /// Our envelopes with at least one recipient that has not answered.
    var pendingCount: Int {
        outgoingRecords.lazy.filter { record in self.deliveryRange(record).contains { Self.isPending(self.deliveries[$0].state) } }.count
    }

    func outgoingView(at position: Int) -> Outgoing {
        let record = outgoingRecords[position]
        return Outgoing(index: record.index, id: outgoingIDs[position], isAcknowledgement: record.isAcknowledgement,
                        created: Self.date(record.createdMilliseconds),
                        delivery: Deliveries(deliveryRange(record).map(deliveryView)),
                        summaryIndex: record.summaryIndex == Self.none ? nil : record.summaryIndex,
                        submittedBy: users[record.submittedBy])
    }

    func incomingView(at position: Int) -> Incoming {
        let record = incomingRecords[position]
        return Incoming(index: record.index, id: incomingIDs[position], sender: centers.center(record.sender),
                        received: Self.date(record.receivedMilliseconds), isAcknowledgement: record.isAcknowledgement,
                        read: record.read, acknowledgedBy: users[record.acknowledgedBy],
                        acknowledged: record.acknowledgedMilliseconds == 0 ? nil : Self.date(record.acknowledgedMilliseconds))
    }

    func deliveryRange(_ record: OutgoingRecord) -> Range<Int> {
        Int(record.firstDelivery)..<Int(record.firstDelivery) + Int(record.deliveryCount)
    }

    func deliveryView(_ position: Int) -> RecipientDelivery {
        let record = deliveries[position]
        return RecipientDelivery(center: centers.center(record.center), state: Self.state(record.state),
                                 recipientLogIndex: record.recipientLogIndex == Self.none ? nil : record.recipientLogIndex,
                                 receiptLogIndex: record.receiptIndex == Self.none ? nil : record.receiptIndex,
                                 reason: record.reason == 0 ? nil : Receipt.RefusalReason.allCases[Int(record.reason) - 1].rawValue,
                                 updated: Self.date(record.updatedMilliseconds))
    }

    /// The id a recipient's refusal names when the bytes did not parse (it cannot know theirs).
    static let unparsedEnvelopeID = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    /// A delivery receipt or refusal for a delivery still waiting; answered ones stay as they
    /// are, but for the index a delivered one was logged at: a recipient refilled after a
    /// restore logs it again and its newer receipt names where (what its proofs name).
    mutating func settle(_ position: Int, with receipt: Receipt, entry: UInt64, time: Int64) {
        guard Self.isPending(deliveries[position].state) else {
            if deliveries[position].state == Self.code(.delivered), receipt.outcome == .delivered, let index = receipt.logIndex,
               index != deliveries[position].recipientLogIndex {
                deliveries[position].recipientLogIndex = index
                deliveries[position].receiptIndex = entry
                deliveries[position].updatedMilliseconds = time
            }
            return
        }
        deliveries[position].state = Self.code(receipt.outcome == .delivered ? .delivered : .refused)
        deliveries[position].recipientLogIndex = receipt.logIndex ?? Self.none
        deliveries[position].receiptIndex = entry
        deliveries[position].reason = receipt.reason.flatMap { Receipt.RefusalReason.allCases.firstIndex(of: $0) }.map { UInt8($0 + 1) } ?? 0
        deliveries[position].updatedMilliseconds = time
    }

    /// The refusals under the null id folded since the last call.
    mutating func takeRefusalsByDigest() -> [RefusalByDigest] {
        defer { refusalsByDigest = [] }
        return refusalsByDigest
    }

    /// Settles our envelope `id` with a refusal under the null id that the node matched
    /// to it by digest; false when it is not waiting for that center any more.
    @discardableResult
    mutating func settle(_ id: UUID, with refusal: RefusalByDigest) -> Bool {
        guard let position = deliveryPosition(id, refusal.from), Self.isPending(deliveries[position].state) else { return false }
        settle(position, with: refusal.receipt, entry: refusal.entry, time: refusal.time)
        return true
    }

    /// The delivery position of `peer` for our envelope `id`.
    func deliveryPosition(_ id: UUID, _ peer: CenterID) -> Int? {
        guard let position = outgoingPosition(id), let number = centers.number(of: peer) else { return nil }
        return deliveryRange(outgoingRecords[position]).first { deliveries[$0].center == number }
    }

    /// Where `peer` stands with our envelope `id` (nil: not ours, or not addressed to
    /// it), without building a view: what the exchange asks per envelope.
    public func deliveryState(of id: UUID, for peer: CenterID) -> DeliveryState? {
        deliveryPosition(id, peer).map { Self.state(deliveries[$0].state) }
    }

    /// The log index of our envelope `id`.
    public func logIndex(ofOutgoing id: UUID) -> UInt64? { outgoingPosition(id).map { outgoingRecords[$0].index } }

    /// Where `peer` logged our envelope `id`, as its latest delivery receipt names it.
    func recipientLogIndex(of id: UUID, for peer: CenterID) -> UInt64? {
        deliveryPosition(id, peer).flatMap { deliveries[$0].recipientLogIndex == Self.none ? nil : deliveries[$0].recipientLogIndex }
    }

    /// Whether our envelope `id` waits for no recipient's answer any more.
    func isAnswered(_ id: UUID) -> Bool {
        guard let position = outgoingPosition(id) else { return true }
        return !deliveryRange(outgoingRecords[position]).contains { Self.isPending(deliveries[$0].state) }
    }

    /// Our envelopes that `peer` has not answered yet, in log order.
    public func pending(for peer: CenterID) -> [UUID] { pendingEntries(for: peer).map(\.id) }

    /// Our envelopes that `peer` has not answered yet, with their log indexes, in log order:
    /// what its link is given to send.
    func pendingEntries(for peer: CenterID) -> [(id: UUID, index: UInt64)] {
        guard let number = centers.number(of: peer) else { return [] }
        return outgoingRecords.indices.filter { position in
            deliveryRange(outgoingRecords[position]).contains { deliveries[$0].center == number && Self.isPending(deliveries[$0].state) }
        }.map { (outgoingIDs[$0], outgoingRecords[$0].index) }
    }


    // MARK: Helpers

    static func isPending(_ state: UInt8) -> Bool { state == code(.queued) || state == code(.sent) }
    static func code(_ state: DeliveryState) -> UInt8 { UInt8(DeliveryState.allCases.firstIndex(of: state)!) }
    static func state(_ code: UInt8) -> DeliveryState { DeliveryState.allCases[Int(code)] }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
}

extension Ledger.Lookup where Key == EnvelopeKey {
    /// `ledger.incoming[sender, id]`.
    public subscript(sender: CenterID, id: UUID) -> Value? { find(EnvelopeKey(sender: sender, id: id)) }
}
