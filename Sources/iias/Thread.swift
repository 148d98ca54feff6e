import ArgumentParser
import Foundation
import IIASModel
import IIASAPI

/// `iias thread ID`: one conversation — a request, its replies, updates and cancellation —
/// as this center sent and received it, oldest first. The node builds it
/// (`GET /v1/threads/{id}`, logged as a consultation), so a script reading `--json` gets
/// the same as the table.
struct ThreadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "thread",
        abstract: "Show the whole conversation a notification belongs to, sent and received, oldest first.",
        discussion: """
            Examples:
              iias thread 3f2a9c1e
              iias thread AZ/3f2a9c1e --json

            ID is the full id or a unique prefix of a notification sent or received here
            (`iias inbox`, `iias outbox`); name the sender (AZ/ID or --from AZ) when two
            centers used the same id. Viewing a thread is logged with your user.


            """ + OperatorExit.discussion
    )

    @Argument(help: ArgumentHelp("A notification id, a unique prefix, or SENDER/ID.", valueName: "id"))
    var id: String
    @Option(help: ArgumentHelp("The center that sent it (when several centers used the id).", valueName: "center"))
    var from: String?
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = socket.client
        let (items, start) = try await OperatorExit.run {
            let start = try await Self.resolve(id, from: from, client)
            return (try await client.thread(start.id, from: start.sender), start)
        }
        if json { return Terminal.printEncodable(items) }
        let own = items.first { $0.direction == .sent }?.sender
        Terminal.printTable(["", "CREATED", "FROM", "DIR", "KIND", "PRIORITY", "TLP", "SUBJECT", "ID"], items.map { item in
            [item.id == start.id && (start.sender == nil || start.sender == item.sender) ? ">" : "",
             Render.time(item.created, seconds: true), item.sender.rawValue, item.direction == .sent ? "sent" : "received",
             item.kind.map(Render.kind) ?? "-", Render.priority(item.priority), item.tlp.map(Render.tlp) ?? "-",
             Terminal.safe(item.subject), (item.sender == own ? "" : "\(item.sender.rawValue)/") + Render.shortID(item.id)]
        })
    }

    /// The notification `text` names among those sent and received here: a full id goes
    /// to the node as typed (it refuses one several centers used, naming them), a prefix
    /// is looked up in the inbox and the outbox, as `NotificationIDInput.known` does.
    static func resolve(_ text: String, from: String?, _ client: LocalAPIClient) async throws -> (id: UUID, sender: CenterID?) {
        do {
            let reference = try InboxReference(text, from: from?.uppercased())
            if let full = reference.fullID { return (full, reference.sender) }
            let own = try await client.status().center
            let keys = try await client.inbox().map { EnvelopeKey(sender: $0.sender, id: $0.id) }
                + (try await client.outbox()).map { EnvelopeKey(sender: own, id: $0.id) }
            let key = try reference.resolve(among: keys, what: "notification sent or received", listing: "iias inbox` or `iias outbox")
            return (key.id, key.sender)
        } catch let problem as InboxReference.Problem {
            throw CLIFailure.usage(problem.message, hint: problem.hint)
        }
    }
}

extension Render {
    /// What later notifications did to one, said first by `read`: "CANCELLED by AZ at
    /// 2026-12-06 06:30Z (3f2a9c1e)", so that no one acts on a withdrawn request.
    static func threadMark(_ mark: ThreadMark) -> String {
        let text = "\(mark.state.rawValue.uppercased()) by \(mark.by.rawValue) at \(time(mark.at)) (\(shortID(mark.id)))"
        return mark.state == .cancelled ? Terminal.bold(Terminal.red(text)) : Terminal.bold(text)
    }
}
