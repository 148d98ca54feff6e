import Foundation
import IIASAPI
import IIASLog
import IIASModel

/// Every view of decrypted fields, logged before it is answered: a read of one
/// notification (`read` operator action, every time, not only the first), a listing of the
/// inbox or the outbox, one outbox item, a subscription to the event stream (`consult`
/// entries, `Consultation`). A view the log cannot record is refused, not shown
/// unlogged. One entry per request, whatever it shows; concurrent requests' entries share
/// the log's group commit (one fdatasync), so the cost is one append per request.
extension Node {
    public func inbox(_ filter: InboxFilter, by actor: LocalUser) async throws(NodeError) -> [InboxItem] {
        guard actor.role == .operator else { throw .forbidden("\(actor.user) is an auditor; only operators list the inbox") }
        var items: [InboxItem] = []
        let asOf = ledger.folded
        advanceDesk()
        let threadsKnown = deskIsCurrent
        for position in ledger.inboxPositionsNewestFirst {
            let incoming = ledger.incomingView(at: position)
            if let since = filter.since, incoming.received < since { break }
            if let sender = filter.sender, incoming.sender != sender { continue }
            if filter.unread == true, incoming.read { continue }
            guard var item = inboxItem(incoming) else { continue }
            if let category = filter.category, item.category != category { continue }
            if let priority = filter.priority, item.priority != priority { continue }
            item.thread = threadMark(item.sender, item.id)
            if !threadsKnown { item.threadPending = true }
            items.append(item)
            if let limit = filter.limit, items.count >= limit { break }
        }
        try await record(Consultation(view: .inbox, actor: actor, query: filter.queryText,
                                      shown: items.map { .init(sender: $0.sender, id: $0.id) }, asOf: asOf))
        return items
    }

    public func read(_ id: UUID, from sender: CenterID?, by actor: LocalUser) async throws(NodeError) -> ReadResult {
        guard actor.role == .operator else { throw .forbidden("\(actor.user) is an auditor; only operators read content") }
        let incoming = try inboxEnvelope(id, from: sender)
        let notification = try open(incoming).notification
        // Every read, not only the first: who consulted it and when is what the log is for.
        let action = OperatorAction(action: .read, envelope: id, sender: incoming.sender, actor: actor)
        do { _ = try await append(.operatorAction, action.encoded(), decoded: .action(action)) } catch {
            throw .unavailable("cannot log the read: \(error)")
        }
        logger.info("read", metadata: ["envelope": "\(id)", "from": "\(incoming.sender)", "user": "\(actor.user)", "uid": "\(actor.uid)"])
        guard var item = inboxItem(incoming.sender, id) else { throw .notFound(id) }
        advanceDesk()
        item.thread = threadMark(item.sender, item.id)
        if !deskIsCurrent { item.threadPending = true }
        return ReadResult(item: item, notification: notification)
    }

    /// Our notifications with their subjects, newest first; an auditor's listing is logged
    /// like an operator's.
    public func outbox(limit: Int?, by actor: LocalUser) async throws(NodeError) -> [OutboxItem] {
        var items: [OutboxItem] = []
        let asOf = ledger.folded
        for position in ledger.outgoingIDs.indices.reversed() {
            guard let item = outboxItem(ledger.outgoingView(at: position)) else { continue }
            items.append(item)
            if let limit, items.count >= limit { break }
        }
        try await record(Consultation(view: .outbox, actor: actor, query: limit.map { "limit=\($0)" } ?? "",
                                      shown: items.map { .init(sender: configuration.center, id: $0.id) }, asOf: asOf))
        return items
    }

    public func delivery(of id: UUID, by actor: LocalUser) async throws(NodeError) -> OutboxItem {
        guard let outgoing = ledger.outgoing[id], let item = outboxItem(outgoing) else { throw .notFound(id) }
        try await record(Consultation(view: .outboxItem, actor: actor, query: "",
                                      shown: [.init(sender: configuration.center, id: id)], asOf: ledger.folded))
        return item
    }

    /// Logs that `actor` follows the event stream from now on (received notifications'
    /// subjects come with it), with its filter as the query.
    public func recordSubscription(_ filter: EventFilter, by actor: LocalUser) async throws(NodeError) {
        try await record(Consultation(view: .events, actor: actor, query: String(filter.query.dropFirst()), shown: [], asOf: ledger.folded))
    }

    /// Appends one consultation before its answer goes out.
    func record(_ consultation: Consultation) async throws(NodeError) {
        do { _ = try await append(.operatorAction, consultation.encoded(), decoded: .consultation(consultation)) } catch {
            throw .unavailable("cannot log the consultation (\(consultation.view.rawValue)): \(error)")
        }
    }
}

extension Node {
    /// The newest `limit` entries `filter` admits, in log order: what `iias log entries`
    /// prints, for an auditor on the socket. Headers and who did what only, nothing
    /// decrypted, so it is no consultation of content and is not itself logged. Read off
    /// the actor (a filter that matches little scans the whole log).
    public func logEntries(_ filter: LogEntryFilter, limit: Int, by actor: LocalUser) async throws(NodeError) -> [LogEntrySummary] {
        guard actor.role == .auditor else { throw .forbidden("\(actor.user) is an operator; only auditors list the log") }
        let log = self.log
        return await Task.detached { Self.newest(limit, admittedBy: filter, in: log) }.value
    }

    /// Scans backwards a chunk at a time until `limit` entries are found.
    nonisolated static func newest(_ limit: Int, admittedBy filter: LogEntryFilter, in log: LogStore) -> [LogEntrySummary] {
        var found: [LogEntrySummary] = []
        var end = log.count
        while end > 0, found.count < limit {
            let start = end >= 4_096 ? end - 4_096 : 0
            let chunk = log.entries(from: start, to: end).filter(filter.mayAdmit).map(LogEntrySummary.init).filter(filter.admits)
            found += chunk.reversed().prefix(limit - found.count)
            end = start
        }
        return found.reversed()
    }
}
