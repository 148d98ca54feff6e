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

    /// Every open request, sent and received, in desk order (overdue first), from the
    /// request index brought up to date first (`RequestIndex`).
    func openRequests(now: Date) -> [RequestStatus] {
        updateRequestIndex()
        let index = requestIndex
        var found: [RequestStatus] = []
        for request in index.sent {
            var answers: [RequestStatus.Answer] = []
            for answer in index.repliesTo[request.id] ?? [] where request.recipients.contains(answer.center) && !answers.contains(where: { $0.center == answer.center }) {
                answers.append(answer)
            }
            let waiting = request.recipients.filter { recipient in !answers.contains { $0.center == recipient } }
            guard !waiting.isEmpty else { continue }
            var status = status(.sent, id: request.id, sender: center, subject: request.subject, priority: request.priority,
                                created: request.created, deadline: request.deadline, answered: answers, waiting: waiting, now: now)
            let delays = (index.delaysOf[request.id] ?? []).filter { waiting.contains($0.center) }
            status.delayed = waiting.compactMap { center in delays.last { $0.center == center } }
            found.append(status)
        }
        for request in index.received where index.ourReplies[request.id]?.contains(request.sender) != true {
            found.append(status(.received, id: request.id, sender: request.sender, subject: request.subject, priority: request.priority,
                                created: request.created, deadline: request.deadline, answered: [], waiting: [center], now: now))
        }
        return found.sorted(by: RequestStatus.deskOrder)
    }

    /// Reads the envelopes logged since the last call into `requestIndex`. Received ones
    /// first, so that a reply is known by the time the request it answers is listed.
    func updateRequestIndex() {
        var index = requestIndex
        while index.incomingScanned < ledger.incomingIDs.count {
            let incoming = ledger.incomingView(at: index.incomingScanned)
            index.incomingScanned += 1
            guard !incoming.isAcknowledgement, let summary = try? summary(of: incoming) else { continue }
            index.add(incoming: incoming, summary)
        }
        while index.outgoingScanned < ledger.outgoingIDs.count {
            let outgoing = ledger.outgoingView(at: index.outgoingScanned)
            index.outgoingScanned += 1
            guard !outgoing.isAcknowledgement, let summary = outboxSummary(outgoing) else { continue }
            index.add(outgoing: outgoing, summary, from: center)
        }
        requestIndex = index
    }

    private func status(_ direction: RequestStatus.Direction, id: UUID, sender: CenterID, subject: String, priority: Priority,
                        created: Date, deadline: Date, answered: [RequestStatus.Answer], waiting: [CenterID], now: Date) -> RequestStatus {
        RequestStatus(direction: direction, id: id, sender: sender, subject: subject, priority: priority, created: created,
                      deadline: deadline, secondsLeft: deadline.timeIntervalSince(now),
                      stage: RequestStatus.stage(created: created, deadline: deadline, now: now),
                      answered: answered, waiting: waiting, asOf: now)
    }
}
