import Foundation
import IIASModel

/// What one `consult` operator action says: who looked at which notifications' subjects
/// through a listing, or subscribed to the event stream. Police data-protection law (the
/// Law Enforcement Directive, Art. 25) asks for a log of every consultation — who, when,
/// what — so every listing that shows subjects costs one entry naming every notification
/// it showed (a read of one notification stays a `read` `OperatorAction`).
///
/// Kept apart from `OperatorAction` rather than added to it: a consultation names many
/// notifications and changes no state, and older logs (and older nodes' parsers, which
/// refuse unknown keys) never meet one in the entries they already hold.
public struct Consultation: Sendable, Equatable {
    /// The `action` value that tells a consultation from an `OperatorAction`.
    public static let action = "consult"

    /// What was looked at.
    public enum View: String, Sendable, CaseIterable {
        /// `GET /v1/inbox`: received notifications' subjects.
        case inbox
        /// `GET /v1/outbox`: our notifications' subjects (an auditor may list them too).
        case outbox
        /// `GET /v1/outbox/{id}`: one sent notification with its subject.
        case outboxItem
        /// `GET /v1/events`: from now on, received notifications' subjects as they arrive.
        case events
        /// `GET /v1/threads/{id}`: the subjects of one conversation's notifications.
        case thread
        /// `GET /v1/requests`: open requests sent and received, with their subjects.
        case requests
    }

    /// A notification as the log names it: `sender` and `id` (ids are unique per sender
    /// only). Written `SENDER/ID`, the form `iias read` takes.
    public struct Named: Sendable, Hashable, Codable {
        public var sender: CenterID
        public var id: UUID
        public init(sender: CenterID, id: UUID) { self.sender = sender; self.id = id }
        public var text: String { "\(sender.rawValue)/\(id.upperCaseString)" }
        init?(text: String) {
            let parts = text.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, let sender = CenterID(rawValue: String(parts[0])), let id = UUID(eitherCase: String(parts[1])) else { return nil }
            self.init(sender: sender, id: id)
        }
    }

    public var view: View
    public var user: String
    public var uid: UInt32
    public var role: Role
    /// The filter as the node applied it (`InboxFilter.queryText`, the event stream's query), "" for none.
    public var query: String
    /// How many notifications the view showed (`notifications` names at most `maximumNamed`).
    public var count: Int
    /// Every notification shown, up to `maximumNamed`; past that, `query`, `count` and
    /// `asOf` still pin down the listing: it is a fold of the first `asOf` entries.
    public var notifications: [Named]
    /// The log size the view was computed from.
    public var asOf: UInt64

    /// The most notifications one entry names (about 50 bytes each): a listing of the
    /// whole of a million-notification inbox costs an entry of 50 kB, not 50 MB.
    public static let maximumNamed = 1_000

    public init(view: View, actor: LocalUser, query: String, shown: [Named], asOf: UInt64) {
        self.view = view
        self.user = actor.user
        self.uid = actor.uid
        self.role = actor.role
        self.query = query
        self.count = shown.count
        self.notifications = Array(shown.prefix(Self.maximumNamed))
        self.asOf = asOf
    }

    /// JSON with sorted keys through the model's writer, like `OperatorAction.encoded()`.
    public func encoded() -> [UInt8] {
        JSONWriter.bytes(.object([
            "action": .string(Self.action), "view": .string(view.rawValue), "user": .string(user), "uid": .integer(Int64(uid)),
            "role": .string(role.rawValue), "query": .string(query), "count": .integer(Int64(count)),
            "notifications": .array(notifications.map { .string($0.text) }), "asOf": .integer(Int64(clamping: asOf)),
        ]))
    }

    /// Reads what `encoded()` wrote; nil for anything else (an `OperatorAction` included).
    public init?(json bytes: [UInt8]) {
        guard let parsed = try? JSONParser.parse(bytes), parsed.duplicateKeys.isEmpty, case .object(let object) = parsed.value,
              case .string(Self.action)? = object["action"],
              case .string(let viewText)? = object["view"], let view = View(rawValue: viewText),
              case .string(let user)? = object["user"], case .integer(let uid)? = object["uid"], let uid = UInt32(exactly: uid),
              case .string(let roleText)? = object["role"], let role = Role(rawValue: roleText),
              case .string(let query)? = object["query"], case .integer(let count)? = object["count"], let count = Int(exactly: count),
              case .array(let listed)? = object["notifications"], case .integer(let asOf)? = object["asOf"], let asOf = UInt64(exactly: asOf)
        else { return nil }
        var notifications: [Named] = []
        for item in listed {
            guard case .string(let text) = item, let named = Named(text: text) else { return nil }
            notifications.append(named)
        }
        self.init(view: view, actor: LocalUser(user: user, uid: uid, role: role), query: query, shown: notifications, asOf: asOf)
        self.count = count   // what was shown, which `notifications` names only in part past `maximumNamed`
    }
}

extension InboxFilter {
    /// The filter as the local API's query takes it (`key=value&…`, a fixed order, "" for
    /// none): what the client sends and what a consultation records the node applied.
    public var queryText: String {
        var parts: [String] = []
        if let category { parts.append("category=\(category.rawValue)") }
        if let priority { parts.append("priority=\(priority.rawValue)") }
        if let sender { parts.append("sender=\(sender.rawValue)") }
        if let unread { parts.append("unread=\(unread)") }
        if let since { parts.append("since=\(Timestamp.formatWithMilliseconds(since))") }
        if let limit { parts.append("limit=\(limit)") }
        return parts.joined(separator: "&")
    }
}
