import Foundation
import IIASCrypto
import IIASLog
import IIASModel

/// What one `operatorAction` log entry says: who did what to which envelope. JSON, no
/// plaintext: a submission's summary (category, priority, subject) is encrypted under a
/// key only this node derives (`SelfSealingKey`), so the outbox can show it after a
/// restart while the disk holds only ciphertext.
public struct OperatorAction: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable { case submit, read, acknowledge }
    public var action: Action
    public var envelope: UUID
    public var user: String
    public var uid: UInt32
    /// `submit` only: `OutboxSummary` JSON under this node's outbox-summary key, bound to
    /// the envelope id (`OutboxSummary.associatedData`). What submissions write now.
    public var encryptedSummary: Data?
    /// `submit` only, in entries written before `encryptedSummary`: the same JSON in a
    /// sealed box to this node's X25519 key. Still read, never written.
    public var sealedSummary: Data?

    public init(action: Action, envelope: UUID, actor: Actor, encryptedSummary: Data? = nil, sealedSummary: Data? = nil) {
        self.action = action
        self.envelope = envelope
        self.user = actor.user
        self.uid = actor.uid
        self.encryptedSummary = encryptedSummary
        self.sealedSummary = sealedSummary
    }

    /// JSON with sorted keys (the form `JSONEncoder` with `.sortedKeys` writes, which
    /// older entries hold), through the model's writer: one is logged per submit, read
    /// and acknowledgement, and folded again at every start.
    public func encoded() -> [UInt8] {
        var members: [String: JSONValue] = [
            "action": .string(action.rawValue), "envelope": .string(envelope.upperCaseString),
            "user": .string(user), "uid": .integer(Int64(uid)),
        ]
        if let encryptedSummary { members["encryptedSummary"] = .string(encryptedSummary.base64EncodedString()) }
        if let sealedSummary { members["sealedSummary"] = .string(sealedSummary.base64EncodedString()) }
        return JSONWriter.bytes(.object(members))
    }

    /// Reads what `encoded()` (or `JSONEncoder`) wrote; nil for anything else.
    public init?(json bytes: [UInt8]) {
        guard let parsed = try? JSONParser.parse(bytes), parsed.duplicateKeys.isEmpty, case .object(let object) = parsed.value,
              case .string(let actionText)? = object["action"], let action = Action(rawValue: actionText),
              case .string(let envelopeText)? = object["envelope"], let envelope = UUID(eitherCase: envelopeText),
              case .string(let user)? = object["user"], case .integer(let uid)? = object["uid"], let uid = UInt32(exactly: uid),
              Set(object.keys).isSubset(of: ["action", "envelope", "user", "uid", "encryptedSummary", "sealedSummary"]) else { return nil }
        func base64(_ key: String) -> Data?? {
            guard let value = object[key] else { return .some(nil) }
            guard case .string(let text) = value, let data = Data(base64Encoded: text) else { return nil }
            return data
        }
        guard let encrypted = base64("encryptedSummary"), let sealed = base64("sealedSummary") else { return nil }
        self.action = action
        self.envelope = envelope
        self.user = user
        self.uid = uid
        self.encryptedSummary = encrypted
        self.sealedSummary = sealed
    }
}

extension OperatorAction {
    /// A submission's summary from either form a log holds, nil when neither opens: under
    /// `key` (the node's outbox-summary key), or sealed to `legacyKey` (older entries).
    public func summary(key: SelfSealingKey, legacyKey: EncryptionPrivateKey) -> OutboxSummary? {
        let plain: [UInt8]?
        if let encryptedSummary {
            plain = key.open(Array(encryptedSummary), associatedData: OutboxSummary.associatedData(for: envelope))
        } else {
            plain = sealedSummary.flatMap { legacyKey.open(Array($0)) }
        }
        return plain.flatMap { try? JSONDecoder().decode(OutboxSummary.self, from: Data($0)) }
    }
}

/// The listing fields of a notification this node sent (sealed to itself in the log).
public struct OutboxSummary: Codable, Sendable, Equatable {
    public var category: Category
    public var priority: Priority
    public var subject: String

    /// The JSON `Decodable` reads back, written by the model's writer (one per submission, on the hot path).
    public var json: [UInt8] {
        JSONWriter.bytes(.object(["category": .string(category.rawValue), "priority": .string(priority.rawValue), "subject": .string(subject)]))
    }

    /// What an encrypted summary is bound to: the envelope it summarizes (so that it
    /// cannot be moved to another submission's entry), under a label of its own.
    public static func associatedData(for envelope: UUID) -> [UInt8] {
        Array("IIAS-outbox-summary\0".utf8) + withUnsafeBytes(of: envelope.uuid) { Array($0) }
    }
}

/// One envelope's recipients and where it stands with each, as shown to operators.
public struct Deliveries: Sendable {
    public private(set) var values: [RecipientDelivery]

    init(_ values: [RecipientDelivery]) { self.values = values }

    public subscript(center: CenterID) -> RecipientDelivery? { values.first { $0.center == center } }
}

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

    /// Wire attempts of a delivery still under way; in memory only (a restart shows queued).
    struct Attempts: Sendable {
        var count: Int
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
    /// Delivery position → attempts, for deliveries not yet answered.
    var attempts: [UInt32: Attempts] = [:]
    /// Per center number: when its link tries again after a failure (what a queued
    /// delivery to it waits for); nil while connected.
    var nextAttempts: [UInt16: Date] = [:]
    /// A submit action may be logged just before its `sent` entry (the two are appended
    /// together); its log index and user wait here for the envelope.
    var pendingSubmits: [UUID: (index: UInt64, user: UInt16)] = [:]
    /// Entries folded so far (the log index the next `apply` expects).
    public internal(set) var folded: UInt64 = 0
    /// Entries applied (tree heads included, through `skip`); equals `folded` when none is missing.
    var applied: UInt64 = 0
    /// The log root a loaded snapshot was bound to (nil for a ledger folded from the start).
    public internal(set) var snapshotRoot: [UInt8]?
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

    /// Our envelopes by id.
    public var outgoing: Lookup<Outgoing> { Lookup { id in outgoingPosition(id).map { outgoingView(at: $0) } } }
    /// Envelopes from peers by id.
    public var incoming: Lookup<Incoming> { Lookup { id in incomingPosition(id).map { incomingView(at: $0) } } }

    /// A read-only view by envelope id, so that call sites read `ledger.incoming[id]`.
    public struct Lookup<Value> {
        let find: (UUID) -> Value?
        public subscript(id: UUID) -> Value? { find(id) }
    }

    func outgoingPosition(_ id: UUID) -> Int? { outgoingPositions.position(of: id, in: outgoingIDs) }
    func incomingPosition(_ id: UUID) -> Int? { incomingPositions.position(of: id, in: incomingIDs) }

    /// Received notifications (not acknowledgements) in log order.
    public var inboxOrder: [UUID] { incomingIDs.indices.filter { !incomingRecords[$0].isAcknowledgement }.map { incomingIDs[$0] } }
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

    private func deliveryRange(_ record: OutgoingRecord) -> Range<Int> {
        Int(record.firstDelivery)..<Int(record.firstDelivery) + Int(record.deliveryCount)
    }

    private func deliveryView(_ position: Int) -> RecipientDelivery {
        let record = deliveries[position]
        let tries = attempts[UInt32(position)]
        return RecipientDelivery(center: centers.center(record.center), state: Self.state(record.state),
                                 attempts: tries?.count ?? 0,
                                 nextAttempt: record.state == Self.code(.queued) ? nextAttempts[record.center] : nil,
                                 recipientLogIndex: record.recipientLogIndex == Self.none ? nil : record.recipientLogIndex,
                                 receiptLogIndex: record.receiptIndex == Self.none ? nil : record.receiptIndex,
                                 reason: record.reason == 0 ? nil : Receipt.RefusalReason.allCases[Int(record.reason) - 1].rawValue,
                                 updated: Self.date(record.updatedMilliseconds))
    }

    /// The id a recipient's refusal names when the bytes did not parse (it cannot know theirs).
    static let unparsedEnvelopeID = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    /// A delivery receipt or refusal for a delivery still waiting; answered ones stay as they are.
    private mutating func settle(_ position: Int, with receipt: Receipt, entry: UInt64, time: Int64) {
        guard Self.isPending(deliveries[position].state) else { return }
        deliveries[position].state = Self.code(receipt.outcome == .delivered ? .delivered : .refused)
        deliveries[position].recipientLogIndex = receipt.logIndex ?? Self.none
        deliveries[position].receiptIndex = entry
        deliveries[position].reason = receipt.reason.flatMap { Receipt.RefusalReason.allCases.firstIndex(of: $0) }.map { UInt8($0 + 1) } ?? 0
        deliveries[position].updatedMilliseconds = time
        attempts[UInt32(position)] = nil
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
    private func deliveryPosition(_ id: UUID, _ peer: CenterID) -> Int? {
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

    /// Whether our envelope `id` waits for no recipient's answer any more.
    func isAnswered(_ id: UUID) -> Bool {
        guard let position = outgoingPosition(id) else { return true }
        return !deliveryRange(outgoingRecords[position]).contains { Self.isPending(deliveries[$0].state) }
    }

    /// Our envelopes that `peer` has not answered yet, in log order.
    public func pending(for peer: CenterID) -> [UUID] {
        guard let number = centers.number(of: peer) else { return [] }
        return outgoingRecords.indices.filter { position in
            deliveryRange(outgoingRecords[position]).contains { deliveries[$0].center == number && Self.isPending(deliveries[$0].state) }
        }.map { outgoingIDs[$0] }
    }

    // MARK: Folding

    /// A payload the caller decoded from, or encoded into, the entry's bytes.
    public enum Decoded: Sendable {
        case envelope(Envelope)
        case action(OperatorAction)
    }

    /// Folds one log entry. Payloads were verified before they were logged; here they
    /// are only parsed, so a fold never needs keys or certificates.
    /// `decoded`: the entry's payload as the node's own append already holds it, to spare a second parse.
    public mutating func apply(_ entry: LogEntry, decoded: Decoded? = nil) {
        folded = max(folded, entry.index + 1)
        var parsed: Envelope?, parsedAction: OperatorAction?
        switch decoded {
        case .envelope(let envelope)?: parsed = envelope
        case .action(let action)?: parsedAction = action
        case nil: break
        }
        applied += 1
        let time = entry.timeMilliseconds
        switch entry.type {
        case .sent:
            guard let envelope = parsed ?? parse(entry) else { return }
            let header = envelope.header
            guard outgoingPosition(header.id) == nil else { return }
            let isAck = header.kind == .receipt
            let first = UInt32(deliveries.count)
            for recipient in header.recipients.sorted() {
                deliveries.append(DeliveryRecord(updatedMilliseconds: time, center: centers.intern(recipient), state: Self.code(.queued)))
            }
            var record = OutgoingRecord(index: entry.index, createdMilliseconds: Int64(header.created.timeIntervalSince1970 * 1000),
                                        firstDelivery: first, deliveryCount: UInt16(clamping: header.recipients.count),
                                        isAcknowledgement: isAck)
            if let submit = pendingSubmits.removeValue(forKey: header.id) {
                record.summaryIndex = submit.index
                record.submittedBy = submit.user
            }
            outgoingIDs.append(header.id)
            outgoingRecords.append(record)
            outgoingPositions.insert(outgoingIDs.count - 1, of: outgoingIDs)
        case .received:
            guard let envelope = parsed ?? parse(entry) else { return }
            addIncoming(envelope, at: entry, isAcknowledgement: false)
        case .receipt:
            guard let envelope = parsed ?? parse(entry) else { return }
            let from = envelope.header.sender
            for receipt in envelope.header.receipts {
                guard let position = deliveryPosition(receipt.envelopeID, from) else {
                    if receipt.outcome == .acknowledged { addIncoming(envelope, at: entry, isAcknowledgement: true) }
                    if receipt.outcome == .refused, receipt.envelopeID == Self.unparsedEnvelopeID {
                        refusalsByDigest.append(RefusalByDigest(entry: entry.index, time: time, from: from, receipt: receipt))
                    }
                    continue
                }
                if receipt.outcome == .acknowledged {
                    // An acknowledgement of one of our notifications: remembered as incoming
                    // (to answer duplicates with the same delivery receipt) and shown as state.
                    addIncoming(envelope, at: entry, isAcknowledgement: true)
                    deliveries[position].state = Self.code(.acknowledged)
                    deliveries[position].receiptIndex = entry.index
                    deliveries[position].updatedMilliseconds = time
                    attempts[UInt32(position)] = nil
                } else {
                    // A batch may also name envelopes answered before (resent copies).
                    settle(position, with: receipt, entry: entry.index, time: time)
                }
            }
        case .operatorAction:
            guard let action = parsedAction ?? OperatorAction(json: entry.payload) else {
                skipped.append((entry.index, "operator action is not JSON"))
                return
            }
            let user = users.intern(action.user)
            switch action.action {
            case .submit:
                if let position = outgoingPosition(action.envelope) {
                    outgoingRecords[position].summaryIndex = entry.index
                    outgoingRecords[position].submittedBy = user
                } else {
                    pendingSubmits[action.envelope] = (entry.index, user)
                }
            case .read:
                if let position = incomingPosition(action.envelope) { incomingRecords[position].read = true }
            case .acknowledge:
                guard let position = incomingPosition(action.envelope) else { return }
                incomingRecords[position].read = true
                if incomingRecords[position].acknowledgedMilliseconds == 0 {
                    incomingRecords[position].acknowledgedMilliseconds = max(time, 1)
                    incomingRecords[position].acknowledgedBy = user
                }
            }
        case .treeHead:
            break
        }
    }

    /// An entry that changes no state (a tree head the node appended) still counts as folded.
    public mutating func skip(_ index: UInt64) {
        folded = max(folded, index + 1)
        applied += 1
    }

    private mutating func addIncoming(_ envelope: Envelope, at entry: LogEntry, isAcknowledgement: Bool) {
        let header = envelope.header
        guard incomingPosition(header.id) == nil else { return }
        incomingIDs.append(header.id)
        incomingRecords.append(IncomingRecord(index: entry.index, receivedMilliseconds: entry.timeMilliseconds,
                                              sender: centers.intern(header.sender), isAcknowledgement: isAcknowledgement))
        incomingPositions.insert(incomingIDs.count - 1, of: incomingIDs)
    }

    // MARK: Wire progress (not logged)

    /// Our envelope `id` was written to `peer`'s connection.
    public mutating func markSent(_ id: UUID, to peer: CenterID, attempts count: Int) {
        guard let position = deliveryPosition(id, peer), Self.isPending(deliveries[position].state) else { return }
        deliveries[position].state = Self.code(.sent)
        deliveries[position].updatedMilliseconds = Int64(Date().timeIntervalSince1970 * 1000)
        attempts[UInt32(position), default: Attempts(count: 0)].count = count
    }

    /// The connection to `peer` went away before these (written, unanswered) were answered.
    public mutating func markQueued(_ ids: [UUID], for peer: CenterID) {
        for id in ids {
            guard let position = deliveryPosition(id, peer), Self.isPending(deliveries[position].state) else { continue }
            deliveries[position].state = Self.code(.queued)
        }
    }

    /// `peer`'s link tries again at `date` (nil: it is connected); every delivery queued
    /// for it shows that time, whatever the length of its queue.
    public mutating func nextAttempt(for peer: CenterID, at date: Date?) {
        guard let number = centers.number(of: peer) else { return }
        nextAttempts[number] = date
    }

    // MARK: Helpers

    static func isPending(_ state: UInt8) -> Bool { state == code(.queued) || state == code(.sent) }
    static func code(_ state: DeliveryState) -> UInt8 { UInt8(DeliveryState.allCases.firstIndex(of: state)!) }
    static func state(_ code: UInt8) -> DeliveryState { DeliveryState.allCases[Int(code)] }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    private mutating func parse(_ entry: LogEntry) -> Envelope? {
        do { return try Envelope(parsing: entry.payload) } catch {
            skipped.append((entry.index, "not an envelope: \(error)"))
            return nil
        }
    }
}

/// Strings the ledger stores once (center ids, OS user names); records hold a 16-bit number.
struct Names: Sendable {
    static let none = UInt16.max
    private(set) var values: [String] = []
    private var numbers: [String: UInt16] = [:]

    init(_ values: [String] = []) {
        self.values = values
        for (i, value) in values.enumerated() { numbers[value] = UInt16(i) }
    }

    mutating func intern(_ value: String) -> UInt16 {
        if let number = numbers[value] { return number }
        guard values.count < Int(Self.none) else { return Self.none }
        values.append(value)
        numbers[value] = UInt16(values.count - 1)
        return UInt16(values.count - 1)
    }

    mutating func intern(_ center: CenterID) -> UInt16 { intern(center.rawValue) }
    func number(of center: CenterID) -> UInt16? { numbers[center.rawValue] }
    subscript(number: UInt16) -> String? { number == Self.none || Int(number) >= values.count ? nil : values[Int(number)] }
    /// The center behind a number from `intern(_:)` of a center id.
    func center(_ number: UInt16) -> CenterID { CenterID(rawValue: self[number] ?? "") ?? CenterID(rawValue: "XX")! }
}
