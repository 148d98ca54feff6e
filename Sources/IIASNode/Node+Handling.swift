import Foundation
import IIASAPI
import IIASModel

/// Handling never weakens silently along a conversation. A reply, update or
/// cancellation that names notifications this node holds (`inReplyTo`, `references`) is
/// raised, before it is sealed, to the strongest handling of what it answers
/// (`Handling.inheriting`): the node upgrades rather than refuses, so that a script or
/// an operator who left the default marking in place still sends what the law asks.
/// Only `weakenHandling` (the API's `?weakenHandling=true`, the CLI's
/// `--weaken-handling`) keeps a weaker draft as it is, and the submission's operator
/// action then says so (`OperatorAction.weakenedHandling`). Enforced here, not in the
/// CLI, so that no client of the local API can weaken without saying so.
extension Node {
    /// What `draft` carries once it inherits from every received notification it names,
    /// and, when `weaken` keeps it weaker than one of them, the strongest handling it
    /// gave up (for the log). What it names is looked up among the notifications received
    /// and those sent (an update of our own request); unknown ids, and our submissions
    /// logged before their handling was recorded, are not consulted.
    func inheritHandling(_ draft: FormalNotification, weaken: Bool) throws(NodeError) -> (FormalNotification, weakenedFrom: Handling?) {
        guard draft.kind != .notification, draft.kind != .request else { return (draft, nil) }
        var named = draft.references
        if let inReplyTo = draft.inReplyTo, !named.contains(inReplyTo) { named.append(inReplyTo) }
        var strongest: Handling?
        for id in named {
            // An id two centers used names the one this conversation is with, else none.
            let received = ledger.inboxMatches(id)
            let matches = received.count == 1 ? received : received.filter { draft.recipients.contains($0.sender) }
            var original: Handling?
            if matches.count == 1 {
                original = try open(matches[0]).notification.handling
            } else if let sent = ledger.outgoing[id] {
                // Our own: the handling its submission recorded (nil for older submissions).
                original = outboxSummary(sent)?.handling
            }
            guard let original else { continue }
            strongest = strongest.map { $0.inheriting(original) } ?? original
        }
        guard let strongest else { return (draft, nil) }
        var answer = draft
        if weaken {
            return (answer, answer.handling.isWeaker(than: strongest) ? strongest : nil)
        }
        let inherited = answer.handling.inheriting(strongest)
        if inherited != answer.handling { answer.handling = inherited }
        return (answer, nil)
    }
}
