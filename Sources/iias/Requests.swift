import ArgumentParser
import Foundation
import IIASModel
import IIASAPI

/// `iias requests`: the desk's deadline list. The node computes it from its log
/// (`GET /v1/requests`), so a script with `--json` sees what the operator sees, and the
/// listing is logged as a consultation like `inbox`.
struct Requests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open requests sent and received: deadline, time left, who answered and who has not, overdue first.",
        discussion: """
            A request we sent stays open while some recipient has not replied to it; one we
            received, until we reply (`iias reply ID`). A request sent without a deadline got
            one by priority (flash 8 h, urgent 3 days, routine 7 days unless the node's
            requests.deadlineHours.* say otherwise). `iias watch --type request` announces
            requests as they come due. A center that cannot answer in time says so with
            `iias reply ID --delayed "REASON" --response-deadline 2d`: shown here under
            the table, it answers nothing (the request stays open, its deadline as it was).

              iias requests
              iias requests --json | jq '.[] | select(.stage == "overdue")'

            """ + OperatorExit.discussion
    )
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = socket.client
        let requests = try await OperatorExit.run { try await client.requests() }
        if json { return Terminal.printEncodable(requests) }
        guard !requests.isEmpty else { return print(Terminal.dim("no open requests")) }
        Terminal.printTable(["ID", "DIR", "FROM", "PRIORITY", "DEADLINE", "LEFT", "ANSWERED", "WAITING FOR", "SUBJECT"], requests.map { request in
            [Render.shortID(request.id), request.direction.rawValue, request.sender.rawValue, Render.priority(request.priority),
             Render.time(request.deadline), Self.left(request),
             request.answered.isEmpty ? "-" : request.answered.map(\.center.rawValue).joined(separator: ","),
             request.waiting.map { center in center.rawValue + (request.delayed.contains { $0.center == center } ? " (delayed)" : "") }
                .joined(separator: ","), Terminal.safe(request.subject)]
        })
        // What a delayed center said, under the table: the reason is the notice's subject.
        for request in requests {
            for delay in request.delayed {
                print("\(Render.shortID(request.id)): \(delay.center) delayed until \(Render.time(delay.until)): \(Terminal.safe(delay.subject))"
                      + Terminal.dim("  (iias read \(Render.shortID(delay.reply)))"))
            }
        }
    }

    /// Time left, or how long overdue, marked as the deadline watch sees it.
    static func left(_ request: RequestStatus) -> String {
        let text = Render.timeLeft(until: request.deadline, now: request.asOf)
        switch request.stage {
        // `timeLeft` says "overdue by …" in red; under a minute it would round to "0m".
        case .overdue: return request.secondsLeft > -60 ? Terminal.red("overdue by <1m") : text
        case .dueSoon: return Terminal.bold("due soon, " + text)
        case .open: return text
        }
    }
}
