import Foundation
import IIASModel

/// Open requests and their deadlines, computed from the fold (the ledger) and the
/// decrypted listing fields the log holds (`summary(of:)`, `outboxSummary`): nothing is
/// stored twice, so a restart shows what the log says. The listing shows subjects, so
/// it is a consultation and is logged like the inbox (`Node+Consultations.swift`).
extension Node {
    public func requests(by actor: Actor) async throws(NodeError) -> [RequestStatus] {
        guard actor.role == .operator else { throw .forbidden("\(actor.user) is an auditor; only operators list requests") }
        let asOf = ledger.folded
        let found = openRequests(now: Date())
        try await record(Consultation(view: .requests, actor: actor, query: "",
                                                  shown: found.map { .init(sender: $0.sender, id: $0.id) }, asOf: asOf))
        return found
    }

    /// Every open request, sent and received, in desk order (overdue first). One pass over
    /// the inbox and one over the outbox; received summaries come from the cache.
    func openRequests(now: Date) -> [RequestStatus] {
        // Replies received, by the id they answer: who answered what, and when.
        var repliesTo: [UUID: [RequestStatus.Answer]] = [:]
        var delaysOf: [UUID: [RequestStatus.Delay]] = [:]   // "delayed, because…" notices, oldest first
        var receivedRequests: [(Ledger.Incoming, InboxSummary, Date)] = []
        for position in ledger.inboxPositionsNewestFirst.reversed() {
            let incoming = ledger.incomingView(at: position)
            guard let summary = try? summary(of: incoming) else { continue }
            if summary.kind == .reply, let answered = summary.inReplyTo, let until = summary.responseDeadline {
                delaysOf[answered, default: []].append(.init(center: incoming.sender, reply: incoming.id, at: incoming.received,
                                                              until: until, subject: summary.subject))
            } else if summary.kind == .reply, let answered = summary.inReplyTo {
                repliesTo[answered, default: []].append(.init(center: incoming.sender, reply: incoming.id, at: incoming.received))
            } else if summary.kind == .request, let deadline = summary.responseDeadline {
                receivedRequests.append((incoming, summary, deadline))
            }
        }
        // Our replies, by the id they answer, and our requests.
        var ourReplies: [UUID: Set<CenterID>] = [:]   // answered id → the centers we answered (ids are unique per sender)
        var found: [RequestStatus] = []
        for position in ledger.outgoingIDs.indices {
            let outgoing = ledger.outgoingView(at: position)
            guard !outgoing.isAcknowledgement, let summary = outboxSummary(outgoing) else { continue }
            if summary.kind == .reply, let answered = summary.inReplyTo, summary.responseDeadline == nil {   // a delay notice answers nothing
                ourReplies[answered, default: []].formUnion(outgoing.recipients)
            } else if summary.kind == .request, let deadline = summary.responseDeadline {
                let recipients = outgoing.recipients
                var answers: [RequestStatus.Answer] = []
                for answer in repliesTo[outgoing.id] ?? [] where recipients.contains(answer.center) && !answers.contains(where: { $0.center == answer.center }) {
                    answers.append(answer)
                }
                let waiting = recipients.filter { recipient in !answers.contains { $0.center == recipient } }
                guard !waiting.isEmpty else { continue }
                var request = status(.sent, id: outgoing.id, sender: center, subject: summary.subject, priority: summary.priority,
                                     created: outgoing.created, deadline: deadline, answered: answers, waiting: waiting, now: now)
                let delays = (delaysOf[outgoing.id] ?? []).filter { waiting.contains($0.center) }
                request.delayed = waiting.compactMap { center in delays.last { $0.center == center } }
                found.append(request)
            }
        }
        for (incoming, summary, deadline) in receivedRequests where ourReplies[incoming.id]?.contains(incoming.sender) != true {
            found.append(status(.received, id: incoming.id, sender: incoming.sender, subject: summary.subject, priority: summary.priority,
                                created: summary.created, deadline: deadline, answered: [], waiting: [center], now: now))
        }
        return found.sorted(by: RequestStatus.deskOrder)
    }

    private func status(_ direction: RequestStatus.Direction, id: UUID, sender: CenterID, subject: String, priority: Priority,
                        created: Date, deadline: Date, answered: [RequestStatus.Answer], waiting: [CenterID], now: Date) -> RequestStatus {
        RequestStatus(direction: direction, id: id, sender: sender, subject: subject, priority: priority, created: created,
                      deadline: deadline, secondsLeft: deadline.timeIntervalSince(now),
                      stage: RequestStatus.stage(created: created, deadline: deadline, now: now),
                      answered: answered, waiting: waiting, asOf: now)
    }
}
