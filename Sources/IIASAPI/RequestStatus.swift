import Foundation
import IIASModel

/// One open request as `GET /v1/requests` and `iias requests` show it: a request we sent
/// (open while some recipient has not answered) or one we received (open until we
/// answer). An answer is a reply whose `inReplyTo` names the request; the Directive asks
/// single points of contact to track exactly this — the deadline, who answered, who not.
public struct RequestStatus: Sendable, Codable, Equatable {
    public enum Direction: String, Sendable, Codable { case sent, received }
    /// Where the deadline stands at `asOf`.
    public enum Stage: String, Sendable, Codable, Comparable {
        case overdue, dueSoon, open
        /// Overdue first, then due soon: the order a desk works in.
        public static func < (a: Stage, b: Stage) -> Bool { a.rank < b.rank }
        var rank: Int { switch self { case .overdue: 0; case .dueSoon: 1; case .open: 2 } }
    }
    /// A reply from one center (the first one it sent).
    public struct Answer: Sendable, Codable, Equatable {
        public var center: CenterID
        public var reply: UUID
        public var at: Date

        public init(center: CenterID, reply: UUID, at: Date) { (self.center, self.reply, self.at) = (center, reply, at) }
    }

    /// A "delayed, because…" notice: a reply that carries its own `responseDeadline`
    /// (when the answer is now expected; its subject says why). It answers nothing — the
    /// request stays open and keeps its deadline — but the requester sees it here.
    public struct Delay: Sendable, Codable, Equatable {
        public var center: CenterID
        public var reply: UUID
        public var at: Date
        public var until: Date
        public var subject: String

        public init(center: CenterID, reply: UUID, at: Date, until: Date, subject: String) {
            (self.center, self.reply, self.at, self.until, self.subject) = (center, reply, at, until, subject)
        }
    }

    public var direction: Direction
    public var id: UUID
    public var sender: CenterID
    public var subject: String
    public var priority: Priority
    public var created: Date
    public var deadline: Date
    /// Seconds from `asOf` to the deadline; negative once it passed.
    public var secondsLeft: Double
    public var stage: Stage
    public var answered: [Answer]
    /// Delay notices from centers still waited for (the newest from each).
    public var delayed: [Delay] = []
    /// Centers that owe an answer: recipients who have not replied (sent), or this
    /// center (received).
    public var waiting: [CenterID]
    public var asOf: Date

    public init(direction: Direction, id: UUID, sender: CenterID, subject: String, priority: Priority, created: Date, deadline: Date,
                secondsLeft: Double, stage: Stage, answered: [Answer], delayed: [Delay] = [], waiting: [CenterID], asOf: Date) {
        (self.direction, self.id, self.sender, self.subject, self.priority) = (direction, id, sender, subject, priority)
        (self.created, self.deadline, self.secondsLeft, self.stage) = (created, deadline, secondsLeft, stage)
        (self.answered, self.delayed, self.waiting, self.asOf) = (answered, delayed, waiting, asOf)
    }

    /// Stage of a deadline seen at `now` for a request created at `created`.
    public static func stage(created: Date, deadline: Date, now: Date) -> Stage {
        let left = deadline.timeIntervalSince(now)
        if left <= 0 { return .overdue }
        return left <= dueSoonMargin(span: max(deadline.timeIntervalSince(created), 0)) ? .dueSoon : .open
    }

    /// A request is due soon within 10% of its span of its deadline, or within an hour,
    /// whichever is shorter — an hour before a week's deadline, 48 minutes before 8 hours'.
    public static func dueSoonMargin(span: TimeInterval) -> TimeInterval { min(span * 0.1, 3600) }

    /// Overdue first, then due soon, each by deadline (the nearest first).
    public static func deskOrder(_ a: RequestStatus, _ b: RequestStatus) -> Bool {
        a.stage != b.stage ? a.stage < b.stage : a.deadline < b.deadline
    }
}
