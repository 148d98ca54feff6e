import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

struct Inbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List received notifications, newest first.",
        discussion: """
        Examples:
          iias inbox --unread
          iias inbox --priority FLASH --since 2d       # the last two days
          iias inbox --since 2026-11-24 --all          # every one since that day (UTC)
          iias inbox --json | jq '.[].id'

        A table shows the newest \(ListingOptions.defaultLimit) (--limit N, --all) through $PAGER on a terminal.

        """ + OperatorExit.discussion
    )

    @Option(help: "Only this category (any case).") var category: String?
    @Option(help: "Only flash, urgent or routine (any case).") var priority: String?
    @Option(help: ArgumentHelp("Only from this center.", valueName: "center")) var from: String?
    @Flag(help: "Only notifications no operator has read.") var unread = false
    @Option(help: ArgumentHelp("Only those received since: RFC 3339, a day (2026-11-24) or a span back (30m, 12h, 2d).", valueName: "time"))
    var since: String?
    @OptionGroup var listing: ListingOptions
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    func validate() throws { _ = try filter() }

    /// The options as the node's filter; a value that names nothing is a usage error.
    func filter() throws -> InboxFilter {
        var filter = InboxFilter(unread: unread ? true : nil, limit: listing.nodeLimit(json: json))
        do throws(FieldInput.Problem) {
            filter.category = try category.map(FieldInput.category)
        } catch { throw error.usage(option: "category") }
        do throws(FieldInput.Problem) {
            filter.priority = try priority.map(FieldInput.priority)
        } catch { throw error.usage(option: "priority") }
        if let from {
            guard let value = CenterID(rawValue: from.uppercased()) else {
                throw CLIFailure.usage("--from \(FieldInput.shown(from)) is not a center id", hint: "e.g. --from AZ or --from ua-sbu (any case)")
            }
            filter.sender = value
        }
        do throws(FieldInput.Problem) {
            filter.since = try since.map { text throws(FieldInput.Problem) in try FieldInput.time(text, direction: .past) }
        } catch { throw error.usage(option: "since") }
        return filter
    }

    func run() async throws {
        let filter = try filter()
        let client = socket.client
        let items = try await OperatorExit.run { try await client.inbox(filter) }
        if json { return Terminal.printEncodable(items) }
        guard !items.isEmpty else { return print(Terminal.dim("no notifications")) }
        // An id two centers used is shown as SENDER/id, the form `iias read` takes for it.
        let shared = Set(Dictionary(grouping: items, by: \.id).filter { $0.value.count > 1 }.keys)
        let (shown, moreLine) = listing.cut(items, noun: "notification")
        let pager = Pager.start(json: json)
        defer { pager?.finish() }
        Terminal.printTable(["ID", "RECEIVED", "FROM", "PRIORITY", "TLP", "KIND", "CATEGORY", "STATE", "SUBJECT"], shown.map { item in
            [(shared.contains(item.id) ? "\(item.sender.rawValue)/" : "") + Render.shortID(item.id), Render.time(item.received), item.sender.rawValue, Render.priority(item.priority),
             item.tlp.map(Render.tlp) ?? "-", Render.kind(item.kind), item.category.rawValue, Render.state(item), Terminal.safe(item.subject)]
        })
        if let moreLine { print(Terminal.dim(moreLine)) }
        if items.contains(where: { $0.threadPending == true }) { print(Terminal.dim(Render.threadsPendingLine)) }
    }
}
