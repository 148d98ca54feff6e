import Foundation
import IIASAPI
import IIASModel

/// Conversations: a request, the replies to it, its updates and its cancellation, as this
/// node sent and received them, from the desk index (`DeskIndex.threads`), so that the CLI
/// and any script get the same thread from `GET /v1/threads/{id}`.
extension Node {
    /// Every notification linked to `id` (`sender`'s; nil: the only one this node knows
    /// under the id), directly or through others, oldest first. Logged as a consultation
    /// (`thread` view) naming each shown, before it is answered.
    public func thread(of id: UUID, from sender: CenterID?, by actor: LocalUser) async throws(NodeError) -> [ThreadItem] {
        guard actor.role == .operator else { throw .forbidden("\(actor.user) is an auditor; only operators read threads") }
        let start = try threadStart(id, from: sender)
        advanceDesk()
        // A thread with a part left out could hide a cancellation: not shown until complete.
        guard deskIsCurrent else { throw .unavailable("the node is still reading its log for threads (\(deskProgress)); try again shortly") }
        let threads = desk.threads
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

    /// The thread's latest state for one received notification, as far as the desk index goes.
    func threadMark(_ sender: CenterID, _ id: UUID) -> ThreadMark? {
        desk.threads.mark(of: .init(sender: sender, id: id), center: center)
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
