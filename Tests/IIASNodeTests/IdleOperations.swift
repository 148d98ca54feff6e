import Foundation
import IIASModel
@testable import IIASAPI
@testable import IIASNode

/// A node that does nothing: for tests of the local API's transport, whose behaviour is
/// under test, not the node's.
struct IdleOperations: NodeOperations {
    func submit(_ notification: FormalNotification, weakenHandling: Bool, by actor: LocalUser) async throws(NodeError) -> Submission { throw .unavailable("idle") }
    func submit(batch: [FormalNotification], by actor: LocalUser) async throws(NodeError) -> [Submission] { throw .unavailable("idle") }
    func reply(to id: UUID, from sender: CenterID?, with draft: FormalNotification, weakenHandling: Bool, by actor: LocalUser) async throws(NodeError) -> Submission { throw .unavailable("idle") }
    func inbox(_ filter: InboxFilter, by actor: LocalUser) async throws(NodeError) -> [InboxItem] { [] }
    func read(_ id: UUID, from sender: CenterID?, by actor: LocalUser) async throws(NodeError) -> ReadResult { throw .notFound(id) }
    func acknowledge(_ id: UUID, from sender: CenterID?, by actor: LocalUser) async throws(NodeError) -> InboxItem { throw .notFound(id) }
    func outbox(limit: Int?, by actor: LocalUser) async throws(NodeError) -> [OutboxItem] { [] }
    func requests(by actor: LocalUser) async throws(NodeError) -> [RequestStatus] { [] }
    func delivery(of id: UUID, by actor: LocalUser) async throws(NodeError) -> OutboxItem { throw .notFound(id) }
    func receiptProof(of id: UUID, from recipient: CenterID, by actor: LocalUser) async throws(NodeError) -> [UInt8] { throw .notFound(id) }
    func thread(of id: UUID, from sender: CenterID?, by actor: LocalUser) async throws(NodeError) -> [ThreadItem] { throw .notFound(id) }
    func peers() async -> [PeerStatus] { [] }
    func status() async -> NodeStatus {
        NodeStatus(center: CenterID("AZ")!, version: "test", started: Date(), logEntries: 0, inbox: 0, unread: 0,
                   outboxPending: 0, peersConnected: 0, peersConfigured: 0, treeHead: nil)
    }
    func treeHead() async -> TreeHead? { nil }
    func subscribe(_ sink: @escaping @Sendable (NodeEvent?) -> Void) async -> EventSubscription { EventSubscription(key: UUID()) }
    func unsubscribe(_ subscription: EventSubscription) async {}
    func recordSubscription(_ filter: EventFilter, by actor: LocalUser) async throws(NodeError) {}
    func logEntries(_ filter: LogEntryFilter, limit: Int, by actor: LocalUser) async throws(NodeError) -> [LogEntrySummary] { [] }
    func alarms() async -> [HistoryAlarm] { [] }
    func acknowledgeAlarm(_ key: String, note: String, by actor: LocalUser) async throws(NodeError) -> HistoryAlarm { throw .unknownAlarm(key) }
}
