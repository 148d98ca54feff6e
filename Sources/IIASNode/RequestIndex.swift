import Foundation
import IIASAPI
import IIASModel

/// What `openRequests` needs of the requests and replies in the log, gathered once per
/// envelope as part of the desk index (`DeskIndex`): without it the deadline timer would
/// decrypt every summary of a million-notification log every minute, on the actor, in
/// the way of flash traffic.
struct RequestIndex: Sendable, Codable {
    /// A request as the listing needs it; `recipients` are those of ours (for one we
    /// received, only this center owes the answer).
    struct Request: Sendable, Codable {
        var id: UUID, sender: CenterID, recipients: [CenterID]
        var subject: String, priority: Priority
        var created: Date, deadline: Date
    }

    var sent: [Request] = []
    var received: [Request] = []
    /// Replies received, by the id they answer, oldest first.
    var repliesTo: [UUID: [RequestStatus.Answer]] = [:]
    /// "Delayed, because…" notices received, by the id they are about, oldest first.
    var delaysOf: [UUID: [RequestStatus.Delay]] = [:]
    /// Our replies (not delay notices): answered id → the centers we answered (ids are unique per sender).
    var ourReplies: [UUID: Set<CenterID>] = [:]

    /// Records one received notification's part in a request's life, if any.
    mutating func add(incoming: Ledger.Incoming, _ summary: Node.InboxSummary) {
        switch (summary.kind, summary.inReplyTo, summary.responseDeadline) {
        case (.reply, let answered?, let until?):
            delaysOf[answered, default: []].append(.init(center: incoming.sender, reply: incoming.id, at: incoming.received,
                                                          until: until, subject: summary.subject))
        case (.reply, let answered?, nil):
            repliesTo[answered, default: []].append(.init(center: incoming.sender, reply: incoming.id, at: incoming.received))
        case (.request, _, let deadline?):
            received.append(.init(id: incoming.id, sender: incoming.sender, recipients: [], subject: summary.subject, priority: summary.priority,
                                  created: summary.created, deadline: deadline))
        default:
            break
        }
    }

    /// Records one notification we sent, if it is a request or a reply (a delay notice answers nothing).
    mutating func add(outgoing: Ledger.Outgoing, _ summary: OutboxSummary, from center: CenterID) {
        switch (summary.kind, summary.inReplyTo, summary.responseDeadline) {
        case (.reply?, let answered?, nil):
            ourReplies[answered, default: []].formUnion(outgoing.recipients)
        case (.request?, _, let deadline?):
            sent.append(.init(id: outgoing.id, sender: center, recipients: outgoing.recipients, subject: summary.subject,
                              priority: summary.priority, created: outgoing.created, deadline: deadline))
        default:
            break
        }
    }
}
