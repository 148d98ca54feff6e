import Foundation
import IIASModel

/// A received notification as an operator names it on the command line: a full id or a
/// prefix of at least four characters, optionally qualified by its sender (`AZ/3f2a…`, or
/// `--from AZ`). Ids are chosen by their senders, so two centers may use the same one;
/// what names a notification is (sender, id), and a reference that fits several is
/// refused with the candidates listed rather than guessed.
public struct InboxReference: Sendable, Equatable {
    /// Why a reference names nothing, or more than one notification; `hint` says what to type.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var hint: String?
        public var description: String { message }
    }

    public var sender: CenterID?
    /// The id or prefix, lower case.
    public var id: String

    /// `text` as typed (`ID`, `PREFIX`, `SENDER/ID`, `SENDER/PREFIX`); `from`: the sender
    /// given as an option, which must agree with one in `text`.
    public init(_ text: String, from: String? = nil) throws(Problem) {
        var idText = Substring(text)
        var named: CenterID?
        if let slash = text.firstIndex(of: "/") {
            guard let center = CenterID(rawValue: String(text[..<slash])) else {
                throw Problem(message: "\(text.prefix(60)): \(text[..<slash].prefix(20)) is not a center id", hint: "write SENDER/ID, e.g. AZ/3f2a9c1e")
            }
            named = center
            idText = text[text.index(after: slash)...]
        }
        if let from {
            guard let center = CenterID(rawValue: from) else { throw Problem(message: "--from \(from.prefix(20)) is not a center id", hint: "e.g. --from AZ") }
            if let named, named != center { throw Problem(message: "\(text.prefix(60)) names \(named), --from names \(center)", hint: "give the sender once") }
            named = center
        }
        sender = named
        id = idText.lowercased()
        // Refused before anything is looked up: an empty id or three characters would
        // match most of a large inbox, and listing 501 candidates helps nobody.
        guard !id.isEmpty else {
            throw Problem(message: "an empty id names no notification", hint: Self.lengthHint)
        }
        guard fullID != nil || id.count >= 4 else {
            throw Problem(message: "\(text.prefix(60)) is too short to name a notification", hint: Self.lengthHint)
        }
    }

    static let lengthHint = "give the id or at least its first 4 characters, as `iias inbox` or `iias outbox` lists them"

    /// The id when the whole of it was given.
    public var fullID: UUID? { UUID(uuidString: id) }

    /// The one notification among `keys` this reference names. `what` names the set in
    /// messages ("inbox notification", "notification sent or received"), `listing` the
    /// command that shows its ids.
    public func resolve(among keys: [EnvelopeKey], what: String = "inbox notification", listing: String = "iias inbox") throws(Problem) -> EnvelopeKey {
        let matches = keys.filter { key in
            (sender == nil || key.sender == sender) && (fullID.map { key.id == $0 } ?? key.id.uuidString.lowercased().hasPrefix(id))
        }
        let typed = (sender.map { "\($0.rawValue)/" } ?? "") + id
        guard let first = matches.first else {
            throw Problem(message: "no \(what) \(typed.prefix(60))", hint: "`\(listing)` lists the ids and senders")
        }
        guard matches.count == 1 else {
            let sameID = Set(matches.map(\.id)).count == 1
            throw Problem(message: "\(typed.prefix(60)) matches \(matches.count) \(what.replacingOccurrences(of: "notification", with: "notifications")): "
                                   + matches.prefix(10).map(\.description).joined(separator: ", ") + (matches.count > 10 ? ", …" : ""),
                          hint: sameID ? "the centers used the same id; name the sender: \(matches[0].sender.rawValue)/\(id) or --from \(matches[0].sender.rawValue)"
                                       : "give more of the id, or name the sender (SENDER/ID or --from SENDER)")
        }
        return first
    }
}
