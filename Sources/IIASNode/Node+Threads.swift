import Foundation
import IIASModel

/// Conversations: a request, the replies to it, its updates and its cancellation, as this
/// node sent and received them. Built from the node's own views (the inbox's decrypted
/// summaries, the outbox's encrypted summaries) through `ThreadIndex`, so that the CLI and
/// any script get the same thread from `GET /v1/threads/{id}`.
extension Node {
    /// Every notification linked to `id` (`sender`'s; nil: the only one this node knows
    /// under the id), directly or through others, oldest first. Logged as a consultation
    /// (`thread` view) naming each shown, before it is answered.
    public func thread(of id: UUID, from sender: CenterID?, by actor: Actor) async throws(NodeError) -> [ThreadItem] {
        guard actor.role == .operator else { throw .forbidden("\(actor.user) is an auditor; only operators read threads") }
        let start = try threadStart(id, from: sender)
        refreshThreadIndex()
        let asOf = ledger.folded
        var seen: Set<ThreadIndex.Key> = [start], queue = [start]
        while let key = queue.popLast() {
            var next = threads.followUps(of: key, center: center).map(\.key)
            for named in threads.followUps[key]?.names ?? [] {
                next += known(named).filter { ThreadIndex.names(key, $0, center: center) }
            }
            for key in next where seen.insert(key).inserted { queue.append(key) }
        }
        let items = seen.compactMap(threadItem).sorted { ($0.created, $0.logIndex) < ($1.created, $1.logIndex) }
        try await record(Consultation(view: .thread, actor: actor, query: "thread=\(start.text)",
                                      shown: items.map { .init(sender: $0.sender, id: $0.id) }, asOf: asOf))
        return items
    }

    /// The thread's latest state for one received notification (index caught up first).
    func threadMark(_ sender: CenterID, _ id: UUID) -> ThreadMark? {
        threads.mark(of: .init(sender: sender, id: id), center: center)
    }

    /// Decrypts, once each, the received and sent notifications the index has not seen:
    /// all of them, or at most `limit`; true once nothing is left.
    @discardableResult
    func refreshThreadIndex(atMost limit: Int = .max) -> Bool {
        var budget = limit
        while indexNextForThreads() {
            budget -= 1
            if budget == 0 { return threads.inboxSeen == ledger.incomingIDs.count && threads.outboxSeen == ledger.outgoingIDs.count }
        }
        return true
    }

    /// Indexes the next received notification not seen yet, else the next sent one;
    /// false when none is left.
    private func indexNextForThreads() -> Bool {
        if threads.inboxSeen < ledger.incomingIDs.count {
            let incoming = ledger.incomingView(at: threads.inboxSeen)
            threads.inboxSeen += 1
            if !incoming.isAcknowledgement, let summary = try? summary(of: incoming) {
                threads.add(.init(sender: incoming.sender, id: incoming.id), kind: summary.kind, created: summary.created,
                            references: summary.references, inReplyTo: summary.inReplyTo)
            }
            return true
        }
        guard threads.outboxSeen < ledger.outgoingIDs.count else { return false }
        let outgoing = ledger.outgoingView(at: threads.outboxSeen)
        threads.outboxSeen += 1
        // Our submissions logged before the outbox summary recorded kind and links name nothing.
        if !outgoing.isAcknowledgement, let summary = outboxSummary(outgoing), let kind = summary.kind {
            threads.add(.init(sender: center, id: outgoing.id), kind: kind, created: outgoing.created,
                        references: summary.references ?? [], inReplyTo: summary.inReplyTo)
        }
        return true
    }

    /// Indexes what the log held at start a slice at a time, letting other work in
    /// between, so that the first listing after a restart of a large node does not
    /// decrypt every notification while the operator waits. A listing before it is done
    /// finishes the rest itself (a state left out would let a cancelled request look live).
    func warmThreadIndex() async {
        while !stopping, !Task.isCancelled, !refreshThreadIndex(atMost: 1_000) { await Task.yield() }
    }

    /// The notification a thread starts from: received from `sender`, or sent by us when
    /// `sender` is this center; without a sender, the only one known under `id`.
    private func threadStart(_ id: UUID, from sender: CenterID?) throws(NodeError) -> ThreadIndex.Key {
        var matches = known(id)
        if let sender { matches = matches.filter { $0.sender == sender } }
        guard matches.count <= 1 else { throw .ambiguous(id, senders: matches.map(\.sender)) }
        guard let only = matches.first else { throw .notFound(id) }
        return only
    }

    /// Every notification this node sent or received under `id`.
    private func known(_ id: UUID) -> [ThreadIndex.Key] {
        var keys = ledger.inboxMatches(id).map { ThreadIndex.Key(sender: $0.sender, id: id) }
        if let outgoing = ledger.outgoing[id], !outgoing.isAcknowledgement { keys.append(.init(sender: center, id: id)) }
        return keys
    }

    /// One notification of a thread, from the summaries the node keeps.
    private func threadItem(_ key: ThreadIndex.Key) -> ThreadItem? {
        if key.sender == center, let outgoing = ledger.outgoing[key.id] {
            let summary = outboxSummary(outgoing)
            return ThreadItem(sender: center, id: key.id, created: outgoing.created, direction: .sent, kind: summary?.kind,
                              priority: summary?.priority ?? .routine, tlp: summary?.tlp, subject: summary?.subject ?? "(summary not recorded)",
                              inReplyTo: summary?.inReplyTo, references: summary?.references ?? [], logIndex: outgoing.index)
        }
        guard let incoming = ledger.incoming[key.sender, key.id], let summary = try? summary(of: incoming) else { return nil }
        return ThreadItem(sender: key.sender, id: key.id, created: summary.created, direction: .received, kind: summary.kind,
                          priority: summary.priority, tlp: summary.tlp, subject: summary.subject, inReplyTo: summary.inReplyTo,
                          references: summary.references, logIndex: incoming.index)
    }
}
