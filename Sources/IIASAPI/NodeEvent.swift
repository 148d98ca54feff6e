import Foundation
import IIASModel

/// What `iias watch` follows: each is emitted after it is logged.
public enum NodeEvent: Sendable, Codable, Equatable {
    case received(InboxItem)
    case delivery(id: UUID, recipient: RecipientDelivery)
    case peer(PeerStatus)
    /// A request came within its due-soon margin or passed its deadline (once per stage;
    /// again after a restart, which forgets what was announced).
    case request(RequestStatus)
    /// A peer's log showed this node's witness a tree contradicting one it cosigned.
    case splitView(SplitViewReport)
    /// An equivocation, a restored log or a rolled-back witness state was found.
    case history(HistoryAlarm)

    /// The kinds of event, as an event line's `type` names them.
    public enum Kind: String, Sendable, CaseIterable {
        case received, delivery, peer, request
        case splitView = "split-view"
        case history
    }

    public var kind: Kind {
        switch self {
        case .received: .received
        case .delivery: .delivery
        case .peer: .peer
        case .request: .request
        case .splitView: .splitView
        case .history: .history
        }
    }
}

/// Which events one event stream carries (`GET /v1/events?type=…&state=…`): a script that
/// waits for outcomes asks for `state=delivered,refused`, an operator on night duty for
/// `type=received`, and neither reads — nor makes the node write — every step before.
/// Both lists empty: everything. Heartbeats are always sent.
public struct EventFilter: Sendable, Equatable {
    /// The kinds of event carried; empty for all.
    public var kinds: Set<NodeEvent.Kind>
    /// The delivery states whose delivery events are carried; empty for all (events of
    /// other kinds are not affected).
    public var states: Set<DeliveryState>

    public init(kinds: Set<NodeEvent.Kind> = [], states: Set<DeliveryState> = []) {
        self.kinds = kinds
        self.states = states
    }

    public func admits(_ event: NodeEvent) -> Bool {
        guard kinds.isEmpty || kinds.contains(event.kind) else { return false }
        if case .delivery(_, let recipient) = event, !states.isEmpty { return states.contains(recipient.state) }
        return true
    }

    /// The query of `GET /v1/events` that asks for this filter ("" for everything).
    public var query: String {
        var parts: [String] = []
        if !kinds.isEmpty { parts.append("type=" + kinds.map(\.rawValue).sorted().joined(separator: ",")) }
        if !states.isEmpty { parts.append("state=" + states.map(\.rawValue).sorted().joined(separator: ",")) }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    /// Reads the query's `type` and `state` lists (comma-separated); the error names the
    /// first unknown key or value and what is allowed.
    public init(query: [String: String]) throws(FilterProblem) {
        self.init()
        for (key, value) in query {
            let items = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            switch key {
            case "type":
                for item in items {
                    guard let kind = NodeEvent.Kind(rawValue: item) else {
                        throw FilterProblem("type: unknown \(item.prefix(40))", allowed: NodeEvent.Kind.allCases.map(\.rawValue))
                    }
                    kinds.insert(kind)
                }
            case "state":
                for item in items {
                    guard let state = DeliveryState(rawValue: item) else {
                        throw FilterProblem("state: unknown \(item.prefix(40))", allowed: DeliveryState.allCases.map(\.rawValue))
                    }
                    states.insert(state)
                }
            default:
                throw FilterProblem("unknown filter \(key.prefix(40))", allowed: ["type", "state"])
            }
        }
    }

    /// A filter that names something unknown: what, and what is allowed there.
    public struct FilterProblem: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
        public let allowed: [String]
        init(_ description: String, allowed: [String]) {
            self.description = description
            self.allowed = allowed
        }
    }
}

