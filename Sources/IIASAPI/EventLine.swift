import Foundation
import IIASModel

/// One line of `GET /v1/events`: a type and the object it is about.
public struct EventLine: Codable, Sendable, Equatable {
    public var type: String
    public var item: InboxItem?
    public var id: UUID?
    public var recipient: RecipientDelivery?
    public var peer: PeerStatus?
    /// A `request` line: the request whose deadline is near or past (`stage`).
    public var request: RequestStatus?
    /// A `split-view` line: which peer log, at which size, where the evidence is.
    public var splitView: SplitViewReport?
    /// A `history` line: an equivocation, a restored log or a rolled-back witness state.
    public var history: HistoryAlarm?

    public init(_ event: NodeEvent) {
        switch event {
        case .received(let item): type = "received"; self.item = item
        case .delivery(let id, let recipient): type = "delivery"; self.id = id; self.recipient = recipient
        case .peer(let peer): type = "peer"; self.peer = peer
        case .request(let request): type = "request"; self.request = request
        case .splitView(let report): type = "split-view"; splitView = report
        case .history(let alarm): type = "history"; history = alarm
        }
    }

    public init(heartbeat: Void) { type = "heartbeat" }
}
