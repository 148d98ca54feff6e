import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

/// Where the local node's socket is: --socket, else $IIAS_SOCKET, else the packaged default.
struct SocketOptions: ParsableArguments {
    static let defaultPath = "/run/iias/iias.sock"

    @Option(name: .long, help: ArgumentHelp("The node's local API socket (default: $IIAS_SOCKET or \(SocketOptions.defaultPath)).", valueName: "path"))
    var socket: String?

    var client: LocalAPIClient {
        LocalAPIClient(socketPath: socket ?? ProcessInfo.processInfo.environment["IIAS_SOCKET"] ?? Self.defaultPath)
    }
}

/// Exit codes of the operator commands, which talk to a running node.
enum OperatorExit {
    /// The node refused (a 4xx answer: invalid, not found, not allowed).
    static let refused: Int32 = 1
    /// The node could not be reached, or answered 5xx.
    static let unreachable: Int32 = 3

    /// Runs `body`, turning client failures into messages with hints and meaningful exit codes.
    static func run<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let failure as LocalAPIClient.Failure {
            switch failure {
            case .unreachable:
                throw CLIFailure(message: failure.description, hint: failure.hint, exitCode: unreachable)
            case .refused(let status, _) where status >= 500:
                throw CLIFailure(message: failure.description, hint: failure.hint, exitCode: unreachable)
            case .refused, .malformedAnswer:
                throw CLIFailure(message: failure.description, hint: failure.hint, exitCode: refused)
            }
        }
    }

    static let discussion = """
    These commands talk to the local node over its Unix socket; your OS user
    must be in the node's api.users list. Exit codes: 0 done, 1 the node
    refused (the reason is printed), 2 usage, 3 the node is unreachable.
    """
}

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a notification through the local node: signed, encrypted and delivered with receipts.",
        discussion: """
        The same fields as `iias compose` (flags, --file, or both). On a
        terminal, missing required fields are asked for. The node signs with
        the center's key, logs the notification before queuing it, and
        delivers it to each recipient until a signed receipt comes back.
        --to all sends to every configured peer.

        Example:
          iias send --to all --category terrorism --priority flash --tlp TLP:AMBER \\
              --subject "Planned attack on pipeline" --summary "..."

        An update, cancellation or reply inherits the strongest handling of the
        notifications it names (the node raises a weaker one); --weaken-handling
        sends it as given, and the log records that you weakened it.

        Many at once (an import, a feed): --batch reads whole drafts, one JSON
        object a line, and the node logs them together with one sync — all of
        them, or none when one is wrong (the error names it: /2/subject):
          iias send --batch drafts.ndjson

        """ + OperatorExit.discussion
    )

    @OptionGroup var fields: NotificationFields
    @OptionGroup var socket: SocketOptions

    @Flag(help: "An update, cancellation or reply goes with the handling given here even where it is weaker than what it names (logged).")
    var weakenHandling = false

    @Option(help: ArgumentHelp("Send up to 256 whole drafts from a file, one JSON object a line ('-' for standard input), as one batch.", valueName: "file"))
    var batch: String?

    @Flag(help: "Print the node's answer as JSON.")
    var json = false

    func run() async throws {
        if let batch { return try await send(batch: batch) }
        var document = try fields.startingDocument()
        let recipients = fields.recipients
        if !recipients.isEmpty { document["recipients"] = recipients == ["all"] ? ["all"] : recipients }
        let given = document
        try fields.applyFlags(to: &document)  // a mistyped flag stops us before the first question
        if NotificationPrompts.available { try NotificationPrompts().askMissing(&document, given: given, flags: fields) }
        let client = socket.client
        if weakenHandling {
            Terminal.note(Terminal.bold("--weaken-handling: ") + "this goes with the handling given here even if what it names is marked more strictly; the log records it")
        }
        let submission = try await OperatorExit.run {
            try await NotificationIDInput.expand(&document, client)
            return try await client.submit(document, weakenHandling: weakenHandling)
        }
        if json {
            Terminal.printEncodable(submission)
        } else {
            print("sent \(Terminal.bold(submission.id.uuidString.lowercased())) to \(submission.recipients.map(\.rawValue).joined(separator: ", "))"
                  + Terminal.dim("  (log index \(submission.logIndex); `iias outbox \(Render.shortID(submission.id))` follows delivery)"))
        }
    }

    private func send(batch path: String) async throws {
        guard fields.isUnset, !weakenHandling else {
            throw CLIFailure.usage("--batch takes every notification whole from its file", hint: "leave out the field options and --weaken-handling, or send them one at a time")
        }
        // The node's request limit (limits.maxRequestBytes) can be set up to 64 MiB; it says what it takes.
        let bytes = try readUserFile(path, limit: 64 << 20, what: "batch")
        guard !LocalAPIClient.batchDrafts(bytes).isEmpty else { throw CLIFailure.invalid("\(path) holds no drafts", hint: "one JSON notification a line") }
        // The file's lines as they are, blank ones too: the node's line numbers are the file's.
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        let client = socket.client
        let submissions = try await OperatorExit.run { try await client.submit(batch: lines) }
        if json { return Terminal.printEncodable(submissions) }
        for submission in submissions {
            print("sent \(Terminal.bold(submission.id.uuidString.lowercased())) to \(submission.recipients.map(\.rawValue).joined(separator: ", "))"
                  + Terminal.dim("  (log index \(submission.logIndex))"))
        }
        Terminal.note(Terminal.dim("\(Plural.count(submissions.count, "notification")) logged together; `iias outbox` follows delivery"))
    }
}

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

    func run() async throws {
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
    }
}

struct Read: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one received notification, decrypted by the node (the read is logged with your user).",
        discussion: InboxTarget.discussion + OperatorExit.discussion
    )

    @OptionGroup var target: InboxTarget
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = socket.client
        let result = try await OperatorExit.run {
            let (id, sender) = try await target.resolve(client)
            return try await client.read(id, from: sender)
        }
        if json { return Terminal.printEncodable(result) }
        NotificationRendering(notification: result.notification,
                              context: [("received", Render.time(result.item.received)), ("state", Render.state(result.item))]).print()
    }
}

struct Ack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Acknowledge a received notification: logged here and sent, signed, to its sender.",
        discussion: InboxTarget.discussion + OperatorExit.discussion
    )

    @OptionGroup var target: InboxTarget
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = socket.client
        let item = try await OperatorExit.run {
            let (id, sender) = try await target.resolve(client)
            return try await client.acknowledge(id, from: sender)
        }
        if json { return Terminal.printEncodable(item) }
        print("acknowledged \(Terminal.bold(item.id.uuidString.lowercased())) from \(item.sender); the sender is told")
    }
}

struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Notifications this center sent and where each stands with each recipient.",
        discussion: "Without ID: the newest first (\(ListingOptions.defaultLimit) in a table; --limit N, --all), through $PAGER on a terminal. With ID (or a unique prefix of at least 4 characters): one notification, per recipient.\n\n" + OperatorExit.discussion
    )

    @Argument(help: "A notification id (or a unique prefix of at least 4 characters).") var id: String?
    @OptionGroup var listing: ListingOptions
    @OptionGroup var socket: SocketOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let client = socket.client
        if let id {
            let item = try await OperatorExit.run {
                try await client.delivery(of: try await NotificationIDInput.sent(id, client))
            }
            if json { return Terminal.printEncodable(item) }
            print(Terminal.bold(Terminal.safe(item.subject)) + "  " + Render.priority(item.priority) + "  " + item.id.uuidString.lowercased())
            Terminal.printTable(["RECIPIENT", "STATE", "ATTEMPTS", "THEIR INDEX", "UPDATED", "DETAIL"], item.recipients.map { r in
                [r.center.rawValue, Render.delivery(r), String(r.attempts), r.recipientLogIndex.map(String.init) ?? "-",
                 r.updated.map(Render.time) ?? "-", Terminal.safe(r.detail ?? "")]
            })
            return
        }
        let items = try await OperatorExit.run { try await client.outbox(limit: listing.nodeLimit(json: json)) }
        if json { return Terminal.printEncodable(items) }
        guard !items.isEmpty else { return print(Terminal.dim("nothing sent yet")) }
        let (shown, moreLine) = listing.cut(items, noun: "notification")
        let pager = Pager.start(json: json)
        defer { pager?.finish() }
        Terminal.printTable(["ID", "CREATED", "PRIORITY", "TLP", "KIND", "CATEGORY", "DELIVERY", "SUBJECT"], shown.map { item in
            let done = item.recipients.filter { $0.state == .delivered || $0.state == .acknowledged }.count
            let refused = item.recipients.filter { $0.state == .refused }.count
            let delivery = "\(done)/\(item.recipients.count)" + (refused > 0 ? Terminal.red(" \(refused) refused") : "")
            return [Render.shortID(item.id), Render.time(item.created), Render.priority(item.priority), item.tlp.map(Render.tlp) ?? "-",
                    item.kind.map(Render.kind) ?? "-", item.category.rawValue, delivery, Terminal.safe(item.subject)]
        })
        if let moreLine { print(Terminal.dim(moreLine)) }
    }
}
