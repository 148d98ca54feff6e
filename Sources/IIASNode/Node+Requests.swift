import Foundation
import IIASAPI
import IIASModel

/// Open requests and their deadlines, from the desk index (`DeskIndex`), which takes in
/// every request and reply the log holds. The listing shows subjects, so
/// it is a consultation and is logged like the inbox (`Node+Consultations.swift`).
extension Node {
    public func requests(by actor: LocalUser) async throws(NodeError) -> [RequestStatus] {
        guard actor.role == .operator else { throw .forbidden("\(actor.user) is an auditor; only operators list requests") }
        advanceDesk()
        // A list with requests or replies left out would show the wrong ones overdue.
        guard deskIsCurrent else { throw .unavailable("the node is still reading its log for requests (\(deskProgress)); try again shortly") }
        let asOf = ledger.folded
        let found = openRequests(now: Date())
        try await record(Consultation(view: .requests, actor: actor, query: "",
                                                  shown: found.map { .init(sender: $0.sender, id: $0.id) }, asOf: asOf))
        return found
    }

    /// Every open request, sent and received, in desk order (overdue first), from the
    /// desk index (`DeskIndex.requests`) as far as it goes.
    func openRequests(now: Date) -> [RequestStatus] {
        advanceDesk()
        let index = desk.requests
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

    private func status(_ direction: RequestStatus.Direction, id: UUID, sender: CenterID, subject: String, priority: Priority,
                        created: Date, deadline: Date, answered: [RequestStatus.Answer], waiting: [CenterID], now: Date) -> RequestStatus {
        RequestStatus(direction: direction, id: id, sender: sender, subject: subject, priority: priority, created: created,
                      deadline: deadline, secondsLeft: deadline.timeIntervalSince(now),
                      stage: RequestStatus.stage(created: created, deadline: deadline, now: now),
                      answered: answered, waiting: waiting, asOf: now)
    }
}
