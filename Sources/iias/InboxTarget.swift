import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

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

    /// `body` on the notification this names, through the node at `socket`, with the
    /// operator's exit codes (`OperatorExit`): what `read` and `ack` do.
    func call<T: Sendable>(_ socket: SocketOptions, _ body: @Sendable (LocalAPIClient, UUID, CenterID?) async throws -> T) async throws -> T {
        let client = socket.client
        return try await OperatorExit.run {
            let (id, sender) = try await resolve(client)
            return try await body(client, id, sender)
        }
    }

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

/// Short ids for what this center sent (`iias outbox ID`) and for the ids a draft points
/// at (`--reference`, `--in-reply-to`), by the same rules as `InboxTarget`: a unique
/// prefix of at least four characters, refused when it fits several, listing them.
enum NotificationIDInput {
    /// A notification this center sent.
    static func sent(_ text: String, _ client: LocalAPIClient) async throws -> UUID {
        if let full = UUID(uuidString: text) { return full }
        let own = try await client.status().center
        return try resolve(text, among: try await client.outbox().map { EnvelopeKey(sender: own, id: $0.id) },
                           what: "outbox notification", listing: "iias outbox")
    }

    /// A notification sent or received here: what an update, a cancellation or a reply refers to.
    static func known(_ text: String, _ client: LocalAPIClient) async throws -> UUID {
        if let full = UUID(uuidString: text) { return full }
        let own = try await client.status().center
        let keys = try await client.inbox().map { EnvelopeKey(sender: $0.sender, id: $0.id) }
            + (try await client.outbox()).map { EnvelopeKey(sender: own, id: $0.id) }
        return try resolve(text, among: keys, what: "notification sent or received", listing: "iias inbox` or `iias outbox")
    }

    /// Replaces short ids in the draft's `references` and `inReplyTo` by the full ids they name.
    static func expand(_ document: inout [String: Any], _ client: LocalAPIClient) async throws {
        if let references = document["references"] as? [String], references.contains(where: { UUID(uuidString: $0) == nil }) {
            var full: [String] = []
            for reference in references { full.append(try await known(reference, client).uuidString.lowercased()) }
            document["references"] = full
        }
        if let reply = document["inReplyTo"] as? String, UUID(uuidString: reply) == nil {
            document["inReplyTo"] = try await known(reply, client).uuidString.lowercased()
        }
    }

    private static func resolve(_ text: String, among keys: [EnvelopeKey], what: String, listing: String) throws -> UUID {
        do throws(InboxReference.Problem) {
            return try InboxReference(text).resolve(among: keys, what: what, listing: listing).id
        } catch {
            throw CLIFailure.usage(error.message, hint: error.hint)
        }
    }
}
