import Foundation
import IIASAPI
import IIASModel

/// Which notifications name which: the links of every reply, update and cancellation
/// this node sent or received (`references`, `inReplyTo`), kept in memory so that a
/// thread or an inbox's thread states need no decryption of the whole log per request.
///
/// Only notifications that name others are kept (memory grows with the follow-ups, not
/// with the inbox). Part of the desk index (`DeskIndex`), which feeds it as notifications
/// are logged and keeps it across restarts. Ids are unique per sender only, so a link is
/// an id; which notification it names is decided when the thread is read (`names`).
struct ThreadIndex: Sendable, Codable {
    typealias Key = Consultation.Named

    /// A notification that names others.
    struct FollowUp: Sendable, Codable {
        var key: Key
        var kind: Kind
        var created: Date
        /// `references` and `inReplyTo`, without repeats.
        var names: [UUID]
    }

    private(set) var followUps: [Key: FollowUp] = [:]
    /// For each id named, who names it (derived from `followUps`, not stored).
    private(set) var namedBy: [UUID: [Key]] = [:]

    init() {}

    /// Stored as the list of follow-ups in the order they were added.
    init(from decoder: any Decoder) throws {
        for followUp in try [FollowUp](from: decoder) {
            add(followUp.key, kind: followUp.kind, created: followUp.created, references: followUp.names, inReplyTo: nil)
        }
    }

    func encode(to encoder: any Encoder) throws {
        try followUps.values.sorted { ($0.created, $0.key.text) < ($1.created, $1.key.text) }.encode(to: encoder)
    }

    /// Records `key`'s links; a notification naming nothing costs nothing.
    mutating func add(_ key: Key, kind: Kind, created: Date, references: [UUID], inReplyTo: UUID?) {
        var names: [UUID] = []
        for id in references + [inReplyTo].compactMap({ $0 }) where !names.contains(id) && id != key.id { names.append(id) }
        guard !names.isEmpty else { return }
        followUps[key] = FollowUp(key: key, kind: kind, created: created, names: names)
        for id in names { namedBy[id, default: []].append(key) }
    }

    /// The follow-ups that name `key`, as `names(_:_:)` decides.
    func followUps(of key: Key, center: CenterID) -> [FollowUp] {
        (namedBy[key.id] ?? []).compactMap { followUps[$0] }.filter { Self.names($0.key, key, center: center) }
    }

    /// Whether a link from `from` to `to.id` names `to`: a center refers to what it sent
    /// or received, so the named notification is `from`'s own, or one exchanged between
    /// `from`'s sender and this node (ours, or sent to us by them), or one we received
    /// and answer ourselves. A notification of a third center with the same id is not it.
    static func names(_ from: Key, _ to: Key, center: CenterID) -> Bool {
        to.sender == from.sender || to.sender == center || from.sender == center
    }

    /// The thread's latest state for `key`: a cancellation wins whenever it came (it
    /// withdraws), else the newest update or reply.
    func mark(of key: Key, center: CenterID) -> ThreadMark? {
        let direct = followUps(of: key, center: center)
        if let cancel = direct.filter({ $0.kind == .cancellation }).max(by: { $0.created < $1.created }) {
            return ThreadMark(state: .cancelled, by: cancel.key.sender, id: cancel.key.id, at: cancel.created)
        }
        guard let latest = direct.filter({ $0.kind == .update || $0.kind == .reply }).max(by: { $0.created < $1.created }) else { return nil }
        return ThreadMark(state: latest.kind == .update ? .updated : .replied, by: latest.key.sender, id: latest.key.id, at: latest.created)
    }
}
