import Foundation
import IIASModel

/// One notification of a conversation as `GET /v1/threads/{id}` lists it: what an
/// operator needs to follow who said what when, across centers, without opening each
/// (the subject is decrypted by the node; the whole content stays behind `read`).
public struct ThreadItem: Sendable, Codable, Equatable {
    /// Whether this node sent it or received it: a thread mixes both.
    public enum Direction: String, Sendable, Codable { case sent, received }

    public var sender: CenterID
    public var id: UUID
    /// The sender's creation time: the order of the conversation.
    public var created: Date
    public var direction: Direction
    /// Nil for our submissions logged before the outbox summary recorded them.
    public var kind: Kind?
    public var priority: Priority
    public var tlp: TLP?
    public var subject: String
    public var inReplyTo: UUID?
    public var references: [UUID]
    public var logIndex: UInt64

    public init(sender: CenterID, id: UUID, created: Date, direction: Direction, kind: Kind?, priority: Priority, tlp: TLP?,
                subject: String, inReplyTo: UUID?, references: [UUID], logIndex: UInt64) {
        (self.sender, self.id, self.created, self.direction, self.kind, self.priority) = (sender, id, created, direction, kind, priority)
        (self.tlp, self.subject, self.inReplyTo, self.references, self.logIndex) = (tlp, subject, inReplyTo, references, logIndex)
    }
}

/// What later notifications did to one: the thread's latest state as `inbox` and `read`
/// show it, so that an operator never acts on a request its sender already withdrew.
public struct ThreadMark: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable { case cancelled, updated, replied }

    public var state: State
    /// The center whose notification set this state, its id and creation time.
    public var by: CenterID
    public var id: UUID
    public var at: Date

    public init(state: State, by: CenterID, id: UUID, at: Date) {
        (self.state, self.by, self.id, self.at) = (state, by, id, at)
    }
}
