import ArgumentParser
import Foundation
import IIASModel
import IIASNode

/// The received notification `read`, `ack` and `reply` act on: an id or a prefix of one,
/// qualified by its sender when several centers used the same id (`AZ/3f2a` or
/// `--from AZ`). Ids are the senders' own, so only (sender, id) is sure to name one.
struct InboxTarget: ParsableArguments {
    static let discussion = """
        ID is the full id or a unique prefix from `iias inbox`. When two centers
        used the same id, name the sender: AZ/ID, or --from AZ; an id that fits
        several notifications is refused with each of them listed.


        """

    @Argument(help: ArgumentHelp("The notification id, a unique prefix, or SENDER/ID.", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("The center that sent it (when several centers used the id).", valueName: "center"))
    var from: String?

    /// The id and, when known, the sender. A full id goes to the node as typed (it refuses
    /// one that several centers used, naming them); a prefix is looked up in the inbox.
    func resolve(_ client: LocalAPIClient) async throws -> (id: UUID, sender: CenterID?) {
        do {
            let reference = try InboxReference(id, from: from)
            if let full = reference.fullID { return (full, reference.sender) }
            let items = try await client.inbox(InboxFilter(sender: reference.sender))
            let key = try reference.resolve(among: items.map { EnvelopeKey(sender: $0.sender, id: $0.id) })
            return (key.id, key.sender)
        } catch let problem as InboxReference.Problem {
            throw CLIFailure.usage(problem.message, hint: problem.hint)
        }
    }
}
