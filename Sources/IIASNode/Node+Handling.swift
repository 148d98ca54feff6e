import Foundation
import IIASModel

/// Handling never weakens silently along a conversation. A reply, update or
/// cancellation that names received notifications (`inReplyTo`, `references`) is
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
    /// gave up (for the log). Notifications it names that this node did not receive (our
    /// own, or unknown ones) are not consulted.
    func inheritHandling(_ draft: FormalNotification, weaken: Bool) throws(NodeError) -> (FormalNotification, weakenedFrom: Handling?) {
        guard draft.kind != .notification, draft.kind != .request else { return (draft, nil) }
        var named = draft.references
        if let inReplyTo = draft.inReplyTo, !named.contains(inReplyTo) { named.append(inReplyTo) }
        var strongest: Handling?
        for id in named {
            // An id two centers used names the one this conversation is with, else none.
            let matches = ledger.inboxMatches(id).filter { draft.recipients.contains($0.sender) || ledger.inboxMatches(id).count == 1 }
            guard matches.count == 1 else { continue }
            let original = try open(matches[0]).notification.handling
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
