import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow new notifications, deliveries and links as they happen (Ctrl-C stops).",
        discussion: """
            Flash notifications stand out (bold red, and a bell on a terminal), and so
            does TLP:RED; each line shows the TLP label and the kind.

              iias watch --type received                 # only what arrives
              iias watch --state refused                 # only refusals of what we sent
              iias watch --state delivered,refused --json   # outcomes, for a script

            """ + OperatorExit.discussion
    )
    @OptionGroup var socket: SocketOptions
    @Option(help: ArgumentHelp("Only these kinds of event: received, delivery, peer, request, split-view (comma-separated or repeated).", valueName: "kind"))
    var type: [String] = []
    @Option(help: ArgumentHelp("Only deliveries in these states: queued, sent, delivered, acknowledged, refused.", valueName: "state"))
    var state: [String] = []
    @Flag(help: "Print one JSON object per line.") var json = false

    func validate() throws { _ = try filter() }

    /// The event stream's filter from --type and --state; an unknown value is a usage error.
    func filter() throws -> EventFilter {
        do {
            var query: [String: String] = [:]
            if !type.isEmpty { query["type"] = type.joined(separator: ",").lowercased() }
            if !state.isEmpty { query["state"] = state.joined(separator: ",").lowercased() }
            return try EventFilter(query: query)
        } catch {
            throw CLIFailure.usage("--\(error.description)", hint: "one or more of \(error.allowed.joined(separator: ", "))")
        }
    }

    func run() async throws {
        let client = socket.client
        let filter = try filter()
        let events = try await OperatorExit.run { try await client.events(filter) }
        if !json { Terminal.note(Terminal.dim("watching \(client.socketPath); Ctrl-C stops")) }
        do {
            for try await event in events {
                if json {
                    let encoder = APIJSON.encoder()
                    FileHandle.standardOutput.write(((try? encoder.encode(event)) ?? Data()) + Data("\n".utf8))
                    continue
                }
                let now = Render.time(Date())
                switch event.type {
                case "received":
                    guard let item = event.item else { continue }
                    let bell = item.priority == .flash && Terminal.stdoutIsTTY ? "\u{07}" : ""
                    print("\(bell)\(now)  \(Render.priority(item.priority))  \(item.tlp.map(Render.tlp) ?? "-")  \(Render.kind(item.kind))  "
                          + "from \(item.sender)  \(item.category.rawValue)  "
                          + Terminal.bold(Terminal.safe(item.subject)) + "  " + Terminal.dim(Render.shortID(item.id)))
                case "delivery":
                    guard let id = event.id, let recipient = event.recipient else { continue }
                    print("\(now)  \(Render.shortID(id)) → \(recipient.center): \(Render.delivery(recipient))")
                case "request":
                    guard let request = event.request else { continue }
                    let mark = request.stage == .overdue ? Terminal.red("request OVERDUE") : Terminal.bold("request due soon")
                    print("\(now)  \(mark)  \(Render.priority(request.priority))  \(request.direction.rawValue) \(Render.shortID(request.id))  "
                          + "waiting for \(request.waiting.map(\.rawValue).joined(separator: ","))  deadline \(Render.time(request.deadline))  "
                          + Terminal.bold(Terminal.safe(request.subject)))
                case "split-view":
                    guard let report = event.splitView else { continue }
                    print("\(now)  " + Terminal.red("SPLIT VIEW") + "  \(report.log)'s log signed two trees of size \(report.treeSize); evidence \(report.evidence)")
                case "history":
                    guard let alarm = event.history else { continue }
                    print("\(now)  " + Terminal.red(alarm.kind.rawValue.uppercased()) + "  \(alarm.detail)" + (alarm.evidence.map { "; evidence \($0)" } ?? ""))
                case "peer":
                    guard let peer = event.peer else { continue }
                    print(Terminal.dim("\(now)  link \(peer.center): \(peer.state.rawValue)\(peer.lastError.map { " (\(Terminal.safe($0)))" } ?? "")"))
                default:
                    continue
                }
            }
        } catch {
            throw CLIFailure(message: "the node closed the event stream: \(error)", hint: nil, exitCode: OperatorExit.unreachable)
        }
        throw CLIFailure(message: "the node closed the event stream (it stopped?)", hint: nil, exitCode: OperatorExit.unreachable)
    }
}
